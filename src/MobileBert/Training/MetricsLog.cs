using System.Globalization;
using System.Text;
using MobileBert.Reporting;

namespace MobileBert.Training;

/// <summary>
/// Training curves: one row per logged step (named numeric columns, blank when not measured that step), saved as CSV
/// (atomically rewritten) and plotted to PNG. On resume the rows after the checkpoint's step are dropped so the curve
/// continues exactly where the checkpoint left it.
/// </summary>
public sealed class MetricsLog
{
    readonly List<string> _columns = ["step"];
    readonly List<Dictionary<string, double>> _rows = [];

    public IReadOnlyList<string> Columns => _columns;
    public IReadOnlyList<IReadOnlyDictionary<string, double>> Rows => _rows;

    public void Add(long step, IReadOnlyDictionary<string, double> values)
    {
        var row = new Dictionary<string, double>(StringComparer.Ordinal) { ["step"] = step };
        foreach (var (k, v) in values)
        {
            if (!_columns.Contains(k)) _columns.Add(k);
            row[k] = v;
        }
        _rows.Add(row);
    }

    public void TruncateAfter(long step) => _rows.RemoveAll(r => r["step"] > step);

    public IReadOnlyList<double> Series(string column, out IReadOnlyList<double> steps)
    {
        var rows = _rows.Where(r => r.ContainsKey(column)).ToList();
        steps = rows.Select(r => r["step"]).ToList();
        return rows.Select(r => r[column]).ToList();
    }

    public void Save(string path)
    {
        var sb = new StringBuilder();
        sb.AppendLine(string.Join(",", _columns));
        foreach (var r in _rows)
            sb.AppendLine(string.Join(",", _columns.Select(c => r.TryGetValue(c, out double v) ? v.ToString("R", CultureInfo.InvariantCulture)
                : "")));
        string tmp = path + ".tmp-" + Guid.NewGuid().ToString("N");
        File.WriteAllText(tmp, sb.ToString());
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Loads a CSV written by <see cref="Save"/>. Malformed lines are an error naming the file and line.</summary>
    public static MetricsLog Load(string path)
    {
        var log = new MetricsLog();
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0) return log;
        var header = lines[0].Split(',');
        if (header.Length == 0 || header[0] != "step") throw new InvalidDataException($"{path}:1: metrics CSV must start with a 'step' column.");
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            var cells = lines[i].Split(',');
            if (cells.Length != header.Length) throw new InvalidDataException($"{path}:{i + 1}: {cells.Length} cells, header has {header.Length}.");
            var values = new Dictionary<string, double>(StringComparer.Ordinal);
            for (int c = 1; c < header.Length; c++)
            {
                if (cells[c].Length == 0) continue;
                if (!double.TryParse(cells[c], NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                    throw new InvalidDataException($"{path}:{i + 1}: column '{header[c]}' is not a number: '{cells[c]}'.");
                values[header[c]] = v;
            }
            if (!long.TryParse(cells[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out long step))
                throw new InvalidDataException($"{path}:{i + 1}: step '{cells[0]}' is not an integer.");
            log.Add(step, values);
        }
        return log;
    }

    /// <summary>
    /// Stage boundaries from the numeric <paramref name="column"/> (the stage index each row was logged in): one mark per
    /// run of equal values, starting at 0 for the first and at the last step logged in the previous stage for the others
    /// (runs log a row at each stage's last step, so that is the exact boundary). <paramref name="names"/>[index] labels a
    /// stage; without names the marks have none. Rows without the column are passed over. Empty when the log has no such column.
    /// </summary>
    public IReadOnlyList<StageMark> StageMarks(IReadOnlyList<string>? names = null, string column = "stage")
    {
        var marks = new List<StageMark>();
        double? current = null, lastStep = null;
        foreach (var r in _rows)
        {
            if (!r.TryGetValue(column, out double stage) || !double.IsFinite(stage)) continue;
            if (stage != current)
            {
                int index = (int)stage;
                string? name = names is null ? null : index == stage && index >= 0 && index < names.Count ? names[index] : $"stage {stage}";
                marks.Add(new StageMark(lastStep ?? Math.Min(0, r["step"]), name));
                current = stage;
            }
            lastStep = r["step"];
        }
        return marks;
    }

    /// <summary>
    /// Plots the given panels (title → columns) to PNG; columns with no data are left out, missing and non-finite values
    /// are gaps, never zeros. Stage boundaries come from <paramref name="options"/>.Stages when set, else from the "stage"
    /// column labelled with <paramref name="stageNames"/> (indexed by the column's value).
    /// </summary>
    public void Plot(string path, string title, IReadOnlyList<(string Title, string[] Columns)> panels,
        PlotOptions? options = null, IReadOnlyList<string>? stageNames = null)
    {
        var drawn = new List<(string, IReadOnlyList<PlotSeries>)>();
        foreach (var (panelTitle, cols) in panels)
        {
            var series = new List<PlotSeries>();
            foreach (var c in cols)
            {
                var y = Series(c, out var x);
                if (y.Any(double.IsFinite)) series.Add(new PlotSeries(c, x, y));
            }
            if (series.Count > 0) drawn.Add((panelTitle, series));
        }
        if (drawn.Count == 0) return;
        var o = options ?? new PlotOptions();
        LinePlot.Save(path, title, drawn, o.Stages is null ? o with { Stages = StageMarks(stageNames) } : o);
    }
}
