using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace MobileBert.FineTuning;

/// <summary>REPORT.md of <see cref="PretrainedTeacherDemo"/>: the table, what it means, the targets, the curves, the settings.</summary>
internal static class PretrainedDemoReport
{
    public sealed record Inputs(PretrainedDemoSettings Settings, DemoOptions Options, JsonObject Data, JsonObject Distill, JsonObject Teacher,
        JsonObject Student, JsonObject Baseline, JsonObject Evaluation, IReadOnlyList<(string Stage, double Seconds, bool Skipped)> Stages,
        double TotalSeconds, long DiskBytes, Model.MobileBertConfig TeacherConfig, Model.MobileBertConfig StudentConfig, string TeacherName,
        bool TeacherPredicts);

    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Markdown(Inputs x)
    {
        var s = x.Settings; var ev = x.Evaluation;
        double Acc(string key) => ev[$"{key}_test_acc"]!.GetValue<double>();
        double Ms(string arch, int b, string q = "median") => ev[$"{arch}_b{b}"]![q]!.GetValue<double>();
        double teacher = Acc("teacher"), student = Acc("student"), baseline = Acc("baseline");
        double kept = student / teacher, gain = 100 * (student - baseline);
        double speed1 = Ms("teacher", 1) / Ms("student", 1), speed32 = Ms("teacher", 32) / Ms("student", 32);
        double minutes = x.Stages.Sum(t => t.Seconds) / 60;
        bool quick = s.Mode == "quick";
        var sb = new StringBuilder();
        sb.AppendLine($"# MobileBert.NET demo report ({s.Mode})").AppendLine();
        sb.AppendLine(string.Create(Inv, $"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC · {Environment.ProcessorCount} cores, " +
            $"{x.Options.Threads} threads · {System.Runtime.InteropServices.RuntimeInformation.OSDescription} · .NET {Environment.Version} · " +
            $"SIMD {Demo.Simd()} · all stages {minutes:F1} min (this invocation {x.TotalSeconds / 60:F1} min) · " +
            $"disk used {x.DiskBytes / 1e6:F0} MB")).AppendLine();
        sb.AppendLine($"Task: UCI Sentiment Labelled Sentences (Kotzias et al., KDD 2015; CC BY 4.0), fixed split seed {SentimentSplit.Seed}: " +
            $"train {x.Data["train"]} / dev {x.Data["dev"]} / test {x.Data["test"]} sentences. Test accuracy of the best dev epoch.").AppendLine();
        sb.AppendLine("| Model | Initialisation | Parameters (non-embedding) | Dev acc | Test acc | % of teacher | " +
            "Latency b=1, ms (p10–p90) | Latency b=32, ms (p10–p90) | Speed-up b=1 / b=32 |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|");
        string Lat(string arch, int b) => string.Create(Inv, $"{Ms(arch, b):F1} ({Ms(arch, b, "p10"):F1}–{Ms(arch, b, "p90"):F1})");
        string Params(string arch) => string.Create(Inv,
            $"{ev[$"{arch}_parameters"]!.GetValue<long>() / 1e6:F1}M ({ev[$"{arch}_non_embedding"]!.GetValue<long>() / 1e6:F2}M)");
        void Row(string name, string init, JsonObject ft, double acc, string arch, string speed) => sb.AppendLine(string.Create(Inv,
            $"| {name} | {init} | {Params(arch)} | {Pct(ft["dev_acc"]?.GetValue<double>())} | {Pct(acc)} | {Pct(acc / teacher)} | " +
            $"{Lat(arch, 1)} | {Lat(arch, 32)} | {speed} |"));
        Row($"Teacher ({x.TeacherName})", "pretrained (NuGet), fine-tuned", x.Teacher, teacher, "teacher", "1× / 1×");
        string sp = string.Create(Inv, $"{speed1:F1}× / {speed32:F1}×");
        Row("Student (MobileBERT)", "knowledge transfer, then fine-tuned with task distillation", x.Student, student, "student", sp);
        Row("Baseline (student's shape)", "random, then fine-tuned with task distillation", x.Baseline, baseline, "student", sp + " ¹");
        sb.AppendLine();
        sb.AppendLine("¹ The baseline has the student's architecture, so the student's timing is its timing " +
            "(identical networks are timed once).").AppendLine();

        sb.AppendLine("## What the table says").AppendLine();
        sb.AppendLine(string.Create(Inv, $"The student keeps {kept:P1} of the fine-tuned teacher's test accuracy with " +
            $"{ev["student_non_embedding"]!.GetValue<long>() / (double)ev["teacher_non_embedding"]!.GetValue<long>():P0} of its " +
            $"non-embedding parameters, and runs {speed1:F1}× (batch 1) and {speed32:F1}× (batch 32) faster. ") +
            (gain >= 0
                ? string.Create(Inv, $"Knowledge transfer is worth {gain:F1} accuracy points over the same network trained " +
                    $"from a random start with the same recipe")
                : string.Create(Inv, $"The randomly initialised network of the same shape scores {-gain:F1} points higher than " +
                    $"the distilled student")) +
            (quick ? " — at --quick sizes these numbers only show that the pipeline runs." : ".")).AppendLine();

        sb.AppendLine("## Targets").AppendLine();
        sb.AppendLine("| Target | Measured | Met |").AppendLine("|---|---|---|");
        void Target(string what, string measured, bool met) => sb.AppendLine($"| {what} | {measured} | {(met ? "yes" : "**no**")} |");
        Target("student ≥ 96 % of the teacher's test accuracy", Pct(kept), kept >= 0.96);
        Target("student ≥ baseline + 3 points", string.Create(Inv, $"{gain:+0.0;-0.0} points"), gain >= 3);
        Target("student ≥ 3× faster than the teacher (batch 1 and 32)", sp, speed1 >= 3 && speed32 >= 3);
        Target(quick ? "whole demo ≤ 2 min (--quick)" : "whole demo ≤ 20 min", string.Create(Inv, $"{minutes:F1} min"), minutes <= (quick ? 2 : 20));
        sb.AppendLine();

        sb.AppendLine("## Curves").AppendLine();
        foreach (var (title, dir) in new[] { ("Teacher fine-tuning", "teacher-sentiment"), ("Knowledge transfer", "student-distilled"),
                     ("Student fine-tuning", "student-sentiment"), ("Baseline fine-tuning", "baseline-sentiment") })
            sb.AppendLine($"- {title}: [{dir}/curves.png]({dir}/curves.png)");
        sb.AppendLine();

        sb.AppendLine("## How it was made").AppendLine();
        sb.AppendLine($"- Teacher: {PretrainedTeacherDemo.Describe(x.TeacherConfig)}; restored from NuGet, imported from its ONNX export, " +
            $"fine-tuned with the pretrained recipe (`FineTuneRecipe.Pretrained`), sequence length {s.Seq}.");
        sb.AppendLine($"- Student: {PretrainedTeacherDemo.Describe(x.StudentConfig)}.");
        int th = x.TeacherConfig.NumAttentionHeads, sh = x.StudentConfig.NumAttentionHeads;
        int groups = Distillation.DistillationLosses.HeadGroups(th, sh);
        string final = x.TeacherPredicts ? $"pre-training distillation ({s.FinalSteps} steps)"
            : $"all layers with every tensor trained ({s.FinalSteps} steps; the teacher has no MLM head, so there is no pre-training distillation)";
        sb.AppendLine(string.Create(Inv, $"- Knowledge transfer (task-agnostic, from the pretrained — not the fine-tuned — teacher): embedding " +
            $"stage ({s.EmbeddingSteps} steps; the teacher's word embeddings projected onto their principal directions, then trained on hidden " +
            $"state 0), progressive layer-wise feature-map + attention transfer ({s.StepsPerLayer} steps per layer; {th} teacher heads → {sh} " +
            $"student heads in {groups} groups), then {final}. Batch {s.TransferBatch} × {s.Seq} tokens, AdamW lr {s.TransferLr}. Text: " +
            $"{string.Join(", ", s.TransferCorpus)} plus the task's unlabelled training sentences (never dev or test): general English keeps the " +
            $"transfer task-agnostic, the in-domain sentences cover the task's vocabulary. Held-out feature-map MSE " +
            $"{x.Distill["fmt_mse"]!.GetValue<double>():F3}, attention KL {x.Distill["at"]!.GetValue<double>():F3}."));
        sb.AppendLine(string.Create(Inv, $"- Student and baseline: the same recipe and task distillation from the fine-tuned teacher " +
            $"(α {s.KdAlpha}, temperature {s.KdTemperature}); they differ only in their initialisation."));
        sb.AppendLine(string.Create(Inv, $"- Latency: the fast inference engine with the classification head, random token ids, sequence length " +
            $"128, {s.LatencyRounds} interleaved rounds of {s.LatencyRunsPerRound} runs per architecture after warm-up; median and p10–p90."));
        sb.AppendLine();
        sb.AppendLine("| Stage | Time |").AppendLine("|---|---|");
        foreach (var (stage, secs, skipped) in x.Stages)
            sb.AppendLine(string.Create(Inv, $"| {stage} | {secs:F1} s{(skipped ? " (earlier run, reused)" : "")} |"));
        return sb.ToString();
    }

    static string Pct(double? v) => v is double d ? d.ToString("P1", Inv) : "—";
}
