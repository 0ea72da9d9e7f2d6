using MobileBert.Checkpoints;
using MobileBert.Model;
using MobileBert.Tests.Model;

namespace MobileBert.Tests.Api;

/// <summary>Model folders made from the HF BERT golden weights (golden/model/bert_tiny: 1000-token vocab, all heads) with the
/// first 1000 lines of the BERT uncased vocab — a real BERT checkpoint layout users load, small enough for tests.</summary>
internal static class BertFolders
{
    /// <summary>A folder with the golden weights and the given heads (all by default), config.json and vocab.txt.</summary>
    public static string Golden(ModelHeads? heads = null)
    {
        var (model, _) = GoldenForwardTests.LoadGolden("bert_tiny");
        var dir = TestPaths.NewTempDir();
        var kept = heads is { } h ? Subset(model, h) : model;
        ModelFolder.Save(kept, dir);
        File.WriteAllLines(Path.Combine(dir, ModelFolder.VocabFile), File.ReadLines(TestPaths.Vocab).Take(model.Config.VocabSize));
        return dir;
    }

    static MobileBertModel Subset(MobileBertModel source, ModelHeads heads)
    {
        var m = new MobileBertModel(source.Config, heads);
        foreach (var p in m.Store.Parameters) source.Store.Span(source.Store[p.Name]).CopyTo(m.Store.Span(p));
        return m;
    }
}
