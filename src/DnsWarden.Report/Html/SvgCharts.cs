using System.Globalization;

namespace DnsWarden.Report.Html;

/// <summary>
/// The page's charts as inline SVG, laid out here (bars, a stacked timeline, a three-column flow diagram): a charting
/// library would have to be inlined whole into every report and run a script to draw what a few rectangles and curves
/// say; these need no script and print as they show. Every label goes through the writer's escaping and is cut to a
/// readable length, with the whole text in the element's tooltip (<c>title</c>).
/// </summary>
public static class SvgCharts
{
    private const int LabelChars = 38;

    /// <summary>Horizontal bars, longest first as given.</summary>
    public static void Bars(HtmlWriter w, string chart, IReadOnlyList<BarItem> items, string emptyText)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(items);
        if (items.Count == 0)
        {
            w.Element("p", emptyText, ("class", "empty"), ("data-chart", chart));
            return;
        }

        const int RowHeight = 22, LabelWidth = 250, BarWidth = 180, Width = LabelWidth + BarWidth + 60;
        long max = Math.Max(1, items.Max(i => i.Value));
        int height = (items.Count * RowHeight) + 4;
        w.Open("svg", ("class", "chart"), ("data-chart", chart), ("viewBox", $"0 0 {Width} {height}"), ("width", HtmlWriter.Num(Width)), ("height", HtmlWriter.Num(height)), ("role", "img"));
        for (int i = 0; i < items.Count; i++)
        {
            BarItem item = items[i];
            double y = (i * RowHeight) + 2;
            double length = Math.Max(2, (double)item.Value / max * BarWidth);
            w.Open("g", ("data-label", item.Label), ("data-value", HtmlWriter.Num(item.Value)))
                .Element("title", $"{item.Label}: {item.Value.ToString(CultureInfo.InvariantCulture)}")
                .Element("text", Cut(item.Label), ("x", HtmlWriter.Num(LabelWidth - 8)), ("y", HtmlWriter.Num(y + 15)), ("class", "label end"))
                .Empty("rect", ("x", HtmlWriter.Num(LabelWidth)), ("y", HtmlWriter.Num(y + 3)), ("width", HtmlWriter.Num(length)), ("height", "16"), ("rx", "2"), ("class", item.Class))
                .Element("text", item.Value.ToString(CultureInfo.InvariantCulture), ("x", HtmlWriter.Num(LabelWidth + length + 6)), ("y", HtmlWriter.Num(y + 15)), ("class", "label"))
                .Close("g");
        }

        w.Close("svg");
    }

    /// <summary>
    /// Columns of stacked counts on a time axis: one column per slot of <paramref name="slotSeconds"/> from the first to
    /// the last start (empty slots stay empty), series stacked in <paramref name="series"/> order, each coloured by the
    /// class <c>s-</c> + its key.
    /// </summary>
    public static void Timeline(HtmlWriter w, string chart, IReadOnlyList<StackedColumn> columns, int slotSeconds, IReadOnlyList<(string Key, string Label)> series)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(series);
        if (columns.Count == 0)
        {
            w.Element("p", "no events", ("class", "empty"), ("data-chart", chart));
            return;
        }

        const int Width = 920, Height = 200, Left = 44, Bottom = 26, Top = 10;
        DateTimeOffset first = columns[0].Start;
        long slots = ((long)(columns[^1].Start - first).TotalSeconds / slotSeconds) + 1;
        double slotWidth = (double)(Width - Left - 8) / slots;
        double barWidth = Math.Max(1, slotWidth * 0.8);
        int max = Math.Max(1, columns.Max(c => c.Counts.Values.Sum()));
        double scale = (double)(Height - Top - Bottom) / max;
        w.Open("svg", ("class", "chart wide"), ("data-chart", chart), ("viewBox", $"0 0 {Width} {Height}"), ("width", HtmlWriter.Num(Width)), ("height", HtmlWriter.Num(Height)), ("role", "img"));
        double baseline = Height - Bottom;
        w.Empty("line", ("x1", HtmlWriter.Num(Left)), ("y1", HtmlWriter.Num(baseline)), ("x2", HtmlWriter.Num(Width - 4)), ("y2", HtmlWriter.Num(baseline)), ("class", "axis"));
        w.Element("text", max.ToString(CultureInfo.InvariantCulture), ("x", HtmlWriter.Num(Left - 6)), ("y", HtmlWriter.Num(Top + 10)), ("class", "label end"));
        w.Element("text", "0", ("x", HtmlWriter.Num(Left - 6)), ("y", HtmlWriter.Num(baseline)), ("class", "label end"));
        foreach (StackedColumn column in columns)
        {
            long slot = (long)(column.Start - first).TotalSeconds / slotSeconds;
            double x = Left + (slot * slotWidth) + ((slotWidth - barWidth) / 2);
            double y = baseline;
            string time = TimeLabel(column.Start, slotSeconds);
            w.Open("g", ("data-start", column.Start.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)));
            foreach ((string key, string label) in series)
            {
                if (!column.Counts.TryGetValue(key, out int count) || count == 0)
                {
                    continue;
                }

                double h = count * scale;
                y -= h;
                w.Open("rect", ("x", HtmlWriter.Num(x)), ("y", HtmlWriter.Num(y)), ("width", HtmlWriter.Num(barWidth)), ("height", HtmlWriter.Num(h)), ("class", "s-" + key), ("data-series", key), ("data-value", HtmlWriter.Num(count)))
                    .Element("title", $"{time}: {label} {count.ToString(CultureInfo.InvariantCulture)}")
                    .Close("rect");
            }

            w.Close("g");
        }

        // Time labels under the first, the middle and the last slot.
        foreach (long slot in new[] { 0, slots / 2, slots - 1 }.Distinct())
        {
            double x = Left + (slot * slotWidth) + (slotWidth / 2);
            w.Element("text", TimeLabel(first.AddSeconds(slot * slotSeconds), slotSeconds), ("x", HtmlWriter.Num(x)), ("y", HtmlWriter.Num(Height - 8)), ("class", "label middle"));
        }

        w.Close("svg");
    }

    /// <summary>
    /// A flow diagram in three columns (Sankey-like): a node per distinct value, as tall as what passes through it,
    /// and a band per pair of neighbouring values, as thick as the paths that join them. Each column keeps its
    /// <paramref name="maxNodes"/> largest values; the rest are drawn as one node, "(others)".
    /// </summary>
    public static void Flow(HtmlWriter w, string chart, IReadOnlyList<FlowPath> paths, (string, string, string) titles, int maxNodes = 8)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(paths);
        if (paths.Count == 0 || paths.Sum(p => p.Value) == 0)
        {
            w.Element("p", "no events", ("class", "empty"), ("data-chart", chart));
            return;
        }

        const string Others = "(others)";
        const int Width = 920, Top = 28, NodeWidth = 12, Gap = 10;
        double[] columnX = [230, 460, 690];
        string[] Keep(Func<FlowPath, string> pick) =>
        [
            .. paths.GroupBy(pick).Select(g => (g.Key, Sum: g.Sum(p => p.Value)))
                .OrderByDescending(g => g.Sum).ThenBy(g => g.Key, StringComparer.Ordinal).Take(maxNodes).Select(g => g.Key),
        ];
        HashSet<string>[] kept = [[.. Keep(p => p.First)], [.. Keep(p => p.Second)], [.. Keep(p => p.Third)]];
        List<(string[] Keys, long Value)> folded =
        [
            .. paths.Select(p => (Keys: new[]
            {
                kept[0].Contains(p.First) ? p.First : Others,
                kept[1].Contains(p.Second) ? p.Second : Others,
                kept[2].Contains(p.Third) ? p.Third : Others,
            }, p.Value)),
        ];
        long total = folded.Sum(p => p.Value);

        // Nodes: per column, largest first; heights share the column's height after the gaps.
        var nodes = new Dictionary<(int Column, string Key), Node>();
        int mostNodes = 0;
        for (int c = 0; c < 3; c++)
        {
            var column = folded.GroupBy(p => p.Keys[c]).Select(g => (g.Key, Sum: g.Sum(p => p.Value)))
                .OrderBy(g => g.Key == Others ? 1 : 0).ThenByDescending(g => g.Sum).ThenBy(g => g.Key, StringComparer.Ordinal).ToList();
            mostNodes = Math.Max(mostNodes, column.Count);
            foreach ((string key, long sum) in column)
            {
                nodes[(c, key)] = new Node(key, sum);
            }
        }

        double plot = Math.Max(160, mostNodes * 34);
        double scale = (plot - ((mostNodes - 1) * Gap)) / total;
        for (int c = 0; c < 3; c++)
        {
            double y = Top;
            foreach (Node n in nodes.Where(kv => kv.Key.Column == c).Select(kv => kv.Value).OrderBy(n => n.Key == Others ? 1 : 0).ThenByDescending(n => n.Value).ThenBy(n => n.Key, StringComparer.Ordinal))
            {
                n.Y = y;
                n.Height = Math.Max(1, n.Value * scale);
                y += n.Height + Gap;
            }
        }

        int height = (int)Math.Ceiling(Top + plot + 12);
        w.Open("svg", ("class", "chart wide"), ("data-chart", chart), ("viewBox", $"0 0 {Width} {height}"), ("width", HtmlWriter.Num(Width)), ("height", HtmlWriter.Num(height)), ("role", "img"));
        (string t0, string t1, string t2) = titles;
        string[] titleTexts = [t0, t1, t2];
        for (int c = 0; c < 3; c++)
        {
            w.Element("text", titleTexts[c], ("x", HtmlWriter.Num(columnX[c] + (NodeWidth / 2))), ("y", "14"), ("class", "label middle head"));
        }

        // Bands between neighbouring columns, stacked inside each node in the order of the node at the other end.
        for (int c = 0; c < 2; c++)
        {
            int from = c, to = c + 1;
            var links = folded.GroupBy(p => (A: p.Keys[from], B: p.Keys[to])).Select(g => (g.Key.A, g.Key.B, Value: g.Sum(p => p.Value)))
                .OrderBy(l => nodes[(from, l.A)].Y).ThenBy(l => nodes[(to, l.B)].Y).ToList();
            var outOffset = new Dictionary<string, double>(StringComparer.Ordinal);
            var inOffset = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach ((string a, string b, long value) in links.OrderBy(l => nodes[(to, l.B)].Y))
            {
                Node source = nodes[(from, a)], target = nodes[(to, b)];
                double thickness = Math.Max(1, value * scale);
                double sy = source.Y + outOffset.GetValueOrDefault(a) + (thickness / 2);
                double ty = target.Y + inOffset.GetValueOrDefault(b) + (thickness / 2);
                outOffset[a] = outOffset.GetValueOrDefault(a) + thickness;
                inOffset[b] = inOffset.GetValueOrDefault(b) + thickness;
                double x0 = columnX[from] + NodeWidth, x1 = columnX[to], xm = (x0 + x1) / 2;
                string d = $"M{HtmlWriter.Num(x0)},{HtmlWriter.Num(sy)} C{HtmlWriter.Num(xm)},{HtmlWriter.Num(sy)} {HtmlWriter.Num(xm)},{HtmlWriter.Num(ty)} {HtmlWriter.Num(x1)},{HtmlWriter.Num(ty)}";
                w.Open("path", ("d", d), ("class", "band"), ("stroke-width", HtmlWriter.Num(thickness)), ("data-from", a), ("data-to", b), ("data-value", HtmlWriter.Num(value)))
                    .Element("title", $"{a} → {b}: {value.ToString(CultureInfo.InvariantCulture)}")
                    .Close("path");
            }
        }

        foreach (((int column, string key), Node n) in nodes)
        {
            double x = columnX[column];
            string anchor = column == 0 ? "label end" : "label";
            double tx = column == 0 ? x - 6 : x + NodeWidth + 6;
            w.Open("g", ("data-column", HtmlWriter.Num(column)), ("data-node", key), ("data-value", HtmlWriter.Num(n.Value)))
                .Element("title", $"{key}: {n.Value.ToString(CultureInfo.InvariantCulture)}")
                .Empty("rect", ("x", HtmlWriter.Num(x)), ("y", HtmlWriter.Num(n.Y)), ("width", HtmlWriter.Num(NodeWidth)), ("height", HtmlWriter.Num(n.Height)), ("class", "node"))
                .Element("text", $"{Cut(key)} ({n.Value.ToString(CultureInfo.InvariantCulture)})", ("x", HtmlWriter.Num(tx)), ("y", HtmlWriter.Num(n.Y + (n.Height / 2) + 4)), ("class", anchor + " halo"))
                .Close("g");
        }

        w.Close("svg");
    }

    /// <summary>A label cut to a readable length (the whole text is in the tooltip).</summary>
    public static string Cut(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Length <= LabelChars ? text : string.Concat(text.AsSpan(0, LabelChars - 1), "…");
    }

    private static string TimeLabel(DateTimeOffset t, int slotSeconds) =>
        t.UtcDateTime.ToString(slotSeconds >= 86400 ? "yyyy-MM-dd" : slotSeconds >= 60 ? "MM-dd HH:mm" : "HH:mm:ss", CultureInfo.InvariantCulture);

    private sealed class Node(string key, long value)
    {
        public string Key { get; } = key;

        public long Value { get; } = value;

        public double Y { get; set; }

        public double Height { get; set; }
    }
}
