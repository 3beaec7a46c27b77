using System.Globalization;
using System.Text.RegularExpressions;
using DnsWarden.Report.Html;

namespace DnsWarden.Report.Tests;

public sealed class SvgChartsTests
{
    [Fact]
    public void Flow_KeepsTheLargestNodesPerColumn_FoldsTheRest_NothingLost()
    {
        var paths = new List<FlowPath>();
        for (int i = 0; i < 12; i++)
        {
            paths.Add(new FlowPath("p" + i.ToString(CultureInfo.InvariantCulture), "eth0", "198.51.100." + i.ToString(CultureInfo.InvariantCulture) + ":53", 12 - i));
        }

        var w = new HtmlWriter();
        SvgCharts.Flow(w, "flow", paths, ("process", "interface", "resolver"), maxNodes: 4);
        string svg = w.ToString();
        long total = paths.Sum(p => p.Value);
        Dictionary<int, long> byColumn = Regex.Matches(svg, "data-column=\"(\\d)\" data-node=\"[^\"]*\" data-value=\"(\\d+)\"")
            .GroupBy(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))
            .ToDictionary(g => g.Key, g => g.Sum(m => long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)));
        Assert.Equal(total, byColumn[0]);
        Assert.Equal(total, byColumn[1]);
        Assert.Equal(total, byColumn[2]);
        Assert.Equal(5, Regex.Matches(svg, "data-column=\"0\"").Count); // four kept and "(others)"
        Assert.Contains("data-node=\"(others)\" data-value=\"" + (total - 12 - 11 - 10 - 9).ToString(CultureInfo.InvariantCulture) + "\"", svg, StringComparison.Ordinal);
    }

    [Fact]
    public void Bars_LongestIsFullWidth_LabelsCutWithTheWholeTextInTheTooltip()
    {
        string longName = new('x', 80);
        var w = new HtmlWriter();
        SvgCharts.Bars(w, "bars", [new BarItem(longName, 10), new BarItem("short", 5)], "none");
        string svg = w.ToString();
        Assert.Contains("<title>" + longName + ": 10</title>", svg, StringComparison.Ordinal);
        Assert.Contains(SvgCharts.Cut(longName), svg, StringComparison.Ordinal);
        Assert.Contains("width=\"180\"", svg, StringComparison.Ordinal);
        Assert.Contains("width=\"90\"", svg, StringComparison.Ordinal);
    }

    [Fact]
    public void Timeline_StacksEachColumnsSeries_EmptySlotsLeftEmpty()
    {
        DateTimeOffset t = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var w = new HtmlWriter();
        SvgCharts.Timeline(
            w, "timeline",
            [
                new StackedColumn(t, new Dictionary<string, int> { ["A"] = 2, ["C"] = 1 }),
                new StackedColumn(t.AddSeconds(5), new Dictionary<string, int> { ["D"] = 1 }),
            ],
            1, [("A", "Leak-A"), ("C", "Leak-C"), ("D", "Leak-D")]);
        string svg = w.ToString();
        Assert.Equal(3, Regex.Matches(svg, "<rect ").Count);
        Assert.Contains("class=\"s-A\" data-series=\"A\" data-value=\"2\"", svg, StringComparison.Ordinal);
        Assert.Contains("00:00:05: Leak-D 1", svg, StringComparison.Ordinal);
    }
}
