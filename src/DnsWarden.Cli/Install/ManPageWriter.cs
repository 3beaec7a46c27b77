using System.CommandLine;
using System.Globalization;
using System.Text;

namespace DnsWarden.Cli.Install;

/// <summary>
/// A man page (roff, man(7) macros) for one command, from the same descriptions --help prints. Hand-written: the
/// format is a dozen macros, and no library in reach writes them from System.CommandLine's tree.
/// </summary>
internal static class ManPageWriter
{
    /// <summary>"dnsw-leak-watch": the page's name, as `man dnsw-leak-watch` finds it.</summary>
    public static string PageName(CommandNode node) => string.Join('-', node.Path);

    public static string Write(CommandNode node, string version)
    {
        ArgumentNullException.ThrowIfNull(node);
        var roff = new StringBuilder();
        roff.Append(".TH \"").Append(PageName(node).ToUpperInvariant()).Append("\" \"1\" \"\" \"").Append(Escape(version)).AppendLine("\" \"User Commands\"");
        roff.AppendLine(".SH NAME");
        roff.Append(Escape(PageName(node))).Append(" \\- ").AppendLine(Escape(node.Command.Description ?? ""));
        roff.AppendLine(".SH SYNOPSIS");
        roff.Append(".B ").AppendLine(Escape(node.FullName));
        if (node.Children.Count > 0)
        {
            roff.AppendLine("\\fICOMMAND\\fR");
        }

        roff.AppendLine("[\\fIOPTIONS\\fR]");
        foreach (Argument argument in node.Command.Arguments.Where(a => !a.Hidden))
        {
            roff.Append("\\fI").Append(Escape(argument.HelpName ?? argument.Name)).AppendLine(argument.Arity.MaximumNumberOfValues > 1 ? "\\fR..." : "\\fR");
        }

        roff.AppendLine(".SH DESCRIPTION");
        roff.AppendLine(Escape(node.Command.Description ?? ""));
        if (node.Command.Arguments.Any(a => !a.Hidden))
        {
            roff.AppendLine(".SH ARGUMENTS");
            foreach (Argument argument in node.Command.Arguments.Where(a => !a.Hidden))
            {
                roff.AppendLine(".TP");
                roff.Append("\\fI").Append(Escape(argument.HelpName ?? argument.Name)).AppendLine("\\fR");
                roff.AppendLine(Escape(argument.Description ?? ""));
            }
        }

        if (node.Children.Count > 0)
        {
            roff.AppendLine(".SH COMMANDS");
            foreach (CommandNode child in node.Children)
            {
                roff.AppendLine(".TP");
                roff.Append(".B ").AppendLine(Escape(child.Command.Name));
                roff.Append(Escape(child.Command.Description ?? "")).Append(" See \\fB").Append(Escape(PageName(child))).AppendLine("\\fR(1).");
            }
        }

        roff.AppendLine(".SH OPTIONS");
        foreach (Option option in node.Options)
        {
            roff.AppendLine(".TP");
            roff.Append("\\fB").Append(Escape(string.Join(", ", option.Aliases.Prepend(option.Name)))).Append("\\fR");
            if (CommandNode.TakesValue(option))
            {
                roff.Append(" \\fI").Append(Escape(CommandNode.ValueName(option))).Append("\\fR");
            }

            roff.AppendLine();
            roff.AppendLine(Escape(option.Description ?? ""));
        }

        roff.AppendLine(".SH EXIT STATUS");
        roff.AppendLine("0 success (for leak commands: no leak); 1 the command line did not parse; 2 leaks found; 3 an input could not be read");
        roff.AppendLine("(the file and place are named); 4 a capture or service could not start; 70 a fault in dnsw itself.");
        roff.AppendLine(".SH SEE ALSO");
        roff.AppendLine(string.Join(", ", SeeAlso(node).Select(n => $"\\fB{Escape(n)}\\fR(1)")));
        return roff.ToString();
    }

    private static IEnumerable<string> SeeAlso(CommandNode node) =>
        node.Path.Count == 1 ? node.Children.Select(PageName) : [string.Join('-', node.Path.Take(node.Path.Count - 1))];

    /// <summary>Text as roff shows it literally: backslashes, hyphens (so they stay minus signs) and a leading dot or quote.</summary>
    internal static string Escape(string text)
    {
        var sb = new StringBuilder(text.Length + 8);
        foreach (string line in text.ReplaceLineEndings("\n").Split('\n'))
        {
            if (sb.Length > 0)
            {
                sb.Append('\n');
            }

            if (line.StartsWith('.') || line.StartsWith('\''))
            {
                sb.Append("\\&");
            }

            foreach (char c in line)
            {
                // Typographic characters as groff's own names, so every output device (ascii too) has a glyph.
                _ = c switch
                {
                    '\\' => sb.Append("\\e"),
                    '-' => sb.Append("\\-"),
                    '\u2026' => sb.Append("..."),
                    '\u2192' => sb.Append("\\(->"),
                    '\u2014' => sb.Append("\\(em"),
                    '\u2013' => sb.Append("\\(en"),
                    '\u00d7' => sb.Append("\\(mu"),
                    '\u2018' or '\u2019' => sb.Append('\''),
                    '\u201c' or '\u201d' => sb.Append('"'),
                    < '\u0080' => sb.Append(c),
                    _ => sb.Append(CultureInfo.InvariantCulture, $"\\[u{(int)c:X4}]"),
                };
            }
        }

        return sb.ToString();
    }
}
