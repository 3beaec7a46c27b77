using System.Globalization;

namespace DnsWarden.Leak.Events;

/// <summary>
/// Frames of several capture files read as one input. Inside the pipeline a frame number runs on across the files, so
/// it names one packet whatever file it came from (a Leak-D's connection may be in the file after its DNS); on the
/// way out it becomes the file's own frame number (tshark's) with the file beside it (docs/EVENTS.md).
/// </summary>
public sealed class FrameNumbering
{
    private readonly List<(long First, string File)> _files = [];
    private readonly bool _several;

    /// <param name="files">How many files the input names: with more than one, frames and ids say which file they are in
    /// from the first event on (events of the first file are written before the second begins).</param>
    public FrameNumbering(int files = 1)
    {
        _several = files > 1;
    }

    /// <summary>How many files have begun.</summary>
    public int Files => _files.Count;

    /// <summary>A file begins after <paramref name="framesBefore"/> frames of the files before it; returns that offset.</summary>
    public long Begin(string file, long framesBefore)
    {
        ArgumentNullException.ThrowIfNull(file);
        _files.Add((framesBefore + 1, file));
        return framesBefore;
    }

    /// <summary>The file a running frame number is in, and its number there; the number itself when no file began (live).</summary>
    public (string? File, long Frame, int Index) Locate(long frame)
    {
        for (int i = _files.Count - 1; i >= 0; i--)
        {
            if (frame >= _files[i].First)
            {
                return (_files[i].File, frame - _files[i].First + 1, i + 1);
            }
        }

        return (null, frame, 0);
    }

    /// <summary>A frame for a person: <c>12</c>, or <c>12 of b.pcapng</c> when several files were read.</summary>
    public string Label(long frame)
    {
        (string? file, long local, _) = Locate(frame);
        string number = local.ToString(CultureInfo.InvariantCulture);
        return _several && file is not null ? $"{number} of {file}" : number;
    }

    /// <summary>The event with each frame number in its file's numbering and the file beside it.</summary>
    public LeakEvent Localize(LeakEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (_files.Count == 0)
        {
            return e;
        }

        (string? file, long frame, _) = Locate(e.Frame);
        ConnectionFacts? connection = e.Connection;
        if (connection is not null)
        {
            (string? cFile, long cFrame, _) = Locate(connection.Frame);
            connection = connection with { Frame = cFrame, File = cFile };
        }

        OnBehalfOf? onBehalfOf = e.OnBehalfOf;
        if (onBehalfOf is { Frame: > 0 })
        {
            (string? oFile, long oFrame, _) = Locate(onBehalfOf.Frame);
            onBehalfOf = onBehalfOf with { Frame = oFrame, File = oFile };
        }

        return e with
        {
            Frame = frame,
            File = file,
            Connection = connection,
            OnBehalfOf = onBehalfOf,
            CorrelationId = LocalizeCorrelation(e.CorrelationId),
        };
    }

    /// <summary>
    /// <c>q</c>/<c>r</c> + a frame: with one file the file's frame; with several, <c>@N</c> names the file (its place on
    /// the command line, from 1), since two files have their own frame 12.
    /// </summary>
    public string? LocalizeCorrelation(string? id)
    {
        if (id is not { Length: > 1 } || !long.TryParse(id.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out long frame))
        {
            return id;
        }

        (_, long local, int index) = Locate(frame);
        string text = id[0] + local.ToString(CultureInfo.InvariantCulture);
        return _several && index > 0 ? text + "@" + index.ToString(CultureInfo.InvariantCulture) : text;
    }
}
