using Shoal.Evaluation;
using Xunit;

namespace Shoal.Engine.Tests.Evaluation;

/// <summary>Reads the real BEIR SciFact and TREC DL files under ../shared/data (always present in CI).</summary>
public sealed class SharedDataEvaluationTests
{
    [Fact]
    public void SciFactBeirQrelsHave339JudgmentsOver300Queries()
    {
        Qrels qrels = Qrels.Load(TestData.Require("scifact/qrels/test.tsv"));
        Assert.Equal(300, qrels.QueryCount);
        Assert.Equal(339, qrels.JudgmentCount);
        Assert.Equal(1, qrels.Judgments["1"]["31715818"]);
        Assert.Contains("14717500", qrels.Relevant("3"));
    }

    [Fact]
    public void SciFactTrecQrelsEqualTheBeirTsv()
    {
        Qrels beir = Qrels.Load(TestData.Require("scifact/qrels/test.tsv"));
        Qrels trec = Qrels.Load(TestData.Require("topics-qrels/qrels.beir-v1.0.0-scifact.test.txt"));
        Assert.Equal(beir.QueryCount, trec.QueryCount);
        Assert.Equal(beir.JudgmentCount, trec.JudgmentCount);
        Assert.Equal(QrelsTests.Flatten(beir), QrelsTests.Flatten(trec));
    }

    [Fact]
    public void SciFactJsonlQueriesHave300Topics()
    {
        IReadOnlyList<Topic> topics = TopicReader.Load(TestData.Require("scifact/queries.test.jsonl"));
        Assert.Equal(300, topics.Count);
        Assert.Equal(new Topic("1", "0-dimensional biomaterials show inductive properties."), topics[0]);
    }

    [Fact]
    public void SciFactGzipTsvTopicsMatchTheJsonl()
    {
        IReadOnlyList<Topic> tsv = TopicReader.Load(TestData.Require("topics-qrels/topics.beir-v1.0.0-scifact.test.tsv.gz"));
        IReadOnlyList<Topic> jsonl = TopicReader.Load(TestData.Require("scifact/queries.test.jsonl"));
        Assert.Equal(300, tsv.Count);
        Assert.Equal(jsonl, tsv);
    }

    [Fact]
    public void EveryQrelsQueryHasATopic()
    {
        Qrels qrels = Qrels.Load(TestData.Require("scifact/qrels/test.tsv"));
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (Topic topic in TopicReader.Load(TestData.Require("scifact/queries.test.jsonl")))
        {
            ids.Add(topic.Id);
        }

        Assert.All(qrels.Judgments.Keys, id => Assert.Contains(id, ids));
    }

    [Fact]
    public void PerfectRunScoresOneAndEmptyRunScoresZeroOverAllTopics()
    {
        Qrels qrels = Qrels.Load(TestData.Require("scifact/qrels/test.tsv"));
        var topicIds = new List<string>();
        foreach (Topic topic in TopicReader.Load(TestData.Require("scifact/queries.test.jsonl")))
        {
            topicIds.Add(topic.Id);
        }

        var perfect = new RunFile();
        foreach (KeyValuePair<string, IReadOnlyDictionary<string, int>> query in qrels.Judgments)
        {
            foreach (KeyValuePair<string, int> judgment in query.Value)
            {
                perfect.Add(query.Key, judgment.Key, judgment.Value);
            }
        }

        EvaluationReport best = Evaluator.Evaluate(qrels, perfect, topicIds);
        Assert.Equal(300, best.Queries);
        Assert.Equal(1.0, best.NdcgAt10, 12);
        Assert.Equal(1.0, best.MrrAt10, 12);
        Assert.Equal(1.0, best.RecallAt1000, 12);

        EvaluationReport none = Evaluator.Evaluate(qrels, new RunFile(), topicIds);
        Assert.Equal(300, none.Queries);
        Assert.Equal(300, none.QueriesWithoutResults);
        Assert.Equal(0.0, none.NdcgAt10);
    }

    [Fact]
    public void GradedDl19QrelsLoad()
    {
        Qrels qrels = Qrels.Load(TestData.Require("topics-qrels/qrels.dl19-passage.txt"));
        Assert.Equal(43, qrels.QueryCount);
        Assert.Equal(9260, qrels.JudgmentCount);
        int maxGrade = 0;
        foreach (IReadOnlyDictionary<string, int> judgments in qrels.Judgments.Values)
        {
            foreach (int grade in judgments.Values)
            {
                maxGrade = Math.Max(maxGrade, grade);
            }
        }

        Assert.Equal(3, maxGrade);
    }
}
