using System.Globalization;
using MobileBert.Distillation;

namespace MobileBert.FineTuning;

/// <summary>The demo's knowledge-transfer stage: progressive transfer from the demo teacher into the demo student
/// (layer-wise FMT + AT stages, then pre-training distillation), resumable like every other stage.</summary>
internal static class DemoDistill
{
    public static string Run(DistillStageRequest r)
    {
        var s = r.Settings;
        // A third of the configured layer-wise budget per layer and twice that for distillation keeps the whole demo
        // within ~15 minutes on 2 cores (the teacher pre-training dominates).
        int perLayer = Math.Max(1, s.DistillStepsPerLayer / 3);
        var result = DistillationRun.Run(new DistillOptions
        {
            TeacherDir = r.TeacherDir, StudentConfig = r.StudentConfig, Data = r.Corpus, OutputDir = r.OutputDir, VocabPath = r.VocabPath,
            Strategy = DistillStrategy.Progressive, StepsPerLayer = perLayer, PdSteps = 2 * perLayer, Batch = s.PretrainBatch, Seq = s.PretrainSeq,
            Seed = r.Seed, DataSeed = r.Seed, Threads = r.Threads, Optimizer = "adamw", Lr = 1e-3, DupeFactor = s.DupeFactor,
            HeldOutFraction = s.HeldOutFraction, BlankLinesBetweenDocuments = 2, LogEvery = Math.Max(1, perLayer / 4), EvalEvery = perLayer,
            EvalBatches = s.Mode == "quick" ? 2 : 10, CheckpointEvery = perLayer, Resume = true,
        }, p =>
        {
            if (p.Phase is "train" or "data" && p.Terms is null && p.Message is null) return;
            string terms = p.Terms is null ? "" : string.Join(" ", p.Terms.Select(kv =>
                string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:G4}")));
            r.Log(p.Phase switch
            {
                "train" or "eval" => string.Create(CultureInfo.InvariantCulture,
                    $"stage {p.Stage!.Index + 1}/{p.StageCount} {p.Stage.Name} step {p.Step}/{p.Steps}  {terms}  {p.TokensPerSecond:F0} tok/s  eta " +
                        $"{p.Eta:mm\\:ss}")
                    + (p.Eval is { } e ? string.Create(CultureInfo.InvariantCulture, $"  held-out MLM {e.MlmAccuracy:P1}, NSP {e.NspAccuracy:P1}")
                        : ""),
                _ => $"[{p.Phase}] {p.Message}",
            });
        });
        r.Log(string.Create(CultureInfo.InvariantCulture,
            $"student: held-out MLM accuracy {result.FinalEval!.MlmAccuracy:P1} (unigram {result.FinalEval!.UnigramBaselineAccuracy:P1}), NSP " +
                $"{result.FinalEval!.NspAccuracy:P1}, {result.StudentParameters:N0} parameters"));
        return result.OutputDir;
    }
}
