namespace MobileBert.Reporting;

/// <summary>How a panel's y axis is scaled.</summary>
public enum YScale
{
    /// <summary>Logarithmic when every drawn value is positive and they span two decades or more, else linear.</summary>
    Auto,
    Linear,
    /// <summary>Logarithmic; values ≤ 0 are left out like missing ones.</summary>
    Log,
}

/// <summary>A training stage starting at x = <paramref name="Start"/> (a step); <paramref name="Name"/> labels it when given.</summary>
public sealed record StageMark(double Start, string? Name = null);

/// <summary>Everything about a line plot beyond its title and panels; the defaults suit training curves.</summary>
public sealed record PlotOptions
{
    /// <summary>A second, smaller heading line under the title (e.g. the run or stage).</summary>
    public string? Subtitle { get; init; }

    /// <summary>The x-axis label, written under every panel.</summary>
    public string XLabel { get; init; } = "step";

    public int Width { get; init; } = 900;
    public int PanelHeight { get; init; } = 300;
    public YScale YScale { get; init; } = YScale.Auto;

    /// <summary>
    /// Stage boundaries: a dashed vertical line at every <see cref="StageMark.Start"/> inside the x range of the data and,
    /// for named stages, the name in a strip above each panel. Null draws none (MetricsLog.Plot then derives them from
    /// its "stage" column).
    /// </summary>
    public IReadOnlyList<StageMark>? Stages { get; init; }
}

/// <summary>A pixel rectangle, both edges inclusive.</summary>
public readonly record struct PixelRect(int Left, int Top, int Right, int Bottom)
{
    public int Width => Right - Left + 1;
    public int Height => Bottom - Top + 1;
    public bool Contains(int x, int y) => x >= Left && x <= Right && y >= Top && y <= Bottom;
    public bool Intersects(PixelRect o) => Left <= o.Right && o.Left <= Right && Top <= o.Bottom && o.Top <= Bottom;
    public PixelRect Inflate(int d) => new(Left - d, Top - d, Right + d, Bottom + d);
}

/// <summary>
/// Where one panel was drawn: the plot area, the legend box (inside the plot area in a corner free of data, or in a
/// column right of it), the shared x range, the pixel column of every stage boundary, and each series' polylines
/// (one vertex list per unbroken run of finite points).
/// </summary>
public sealed record PanelLayout(PixelRect Plot, PixelRect Legend, bool LegendOutside, double XMin, double XMax, bool LogY,
    IReadOnlyList<int> BoundaryX, IReadOnlyList<IReadOnlyList<(int X, int Y)>> Polylines);

/// <summary>A rendered plot: RGB pixels ([height, width, 3] row-major) and the layout of each panel.</summary>
public sealed record PlotImage(int Width, int Height, byte[] Rgb, IReadOnlyList<PanelLayout> Panels)
{
    public byte[] EncodePng() => PngWriter.Encode(Rgb, Width, Height);

    /// <summary>Writes the PNG atomically.</summary>
    public void Save(string path) => PngWriter.Write(path, Rgb, Width, Height);
}
