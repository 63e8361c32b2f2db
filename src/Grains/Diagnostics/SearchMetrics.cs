using System.Diagnostics;
using Shoal.Grains.Contracts;

namespace Shoal.Grains.Diagnostics;

/// <summary>Records one search's figures (latency, fan-out, coverage, outcome) on <see cref="ShoalTelemetry"/>'s instruments and span.</summary>
internal static class SearchMetrics
{
    public static void Record(SearchResponse response, Activity? activity)
    {
        var index = new KeyValuePair<string, object?>("index", response.Index);
        string outcome = response.Status switch
        {
            SearchStatus.Ok => response.Coverage.Partial ? "partial" : "ok",
            SearchStatus.Invalid => "invalid",
            SearchStatus.IndexNotFound => "not_found",
            _ => "unavailable",
        };
        ShoalTelemetry.Queries.Add(1, index, new("outcome", outcome));
        activity?.SetTag("shoal.outcome", outcome);
        if (response.Status != SearchStatus.Ok)
        {
            activity?.SetStatus(ActivityStatusCode.Error, response.Error);
            return;
        }
        string channels = response.Channels.Length switch
        {
            0 => "none",
            1 => response.Channels[0], // the common case: no string built per search
            _ => string.Join('+', response.Channels),
        };
        ShoalTelemetry.QueryDuration.Record(response.TookMs, index, new("channels", channels));
        var coverage = response.Coverage;
        ShoalTelemetry.QueryFanout.Record(coverage.Shards, index);
        if (coverage.Shards > 0) ShoalTelemetry.Coverage.Record((double)coverage.Answered / coverage.Shards, index);
        if (coverage.Missing.Length > 0)
        {
            for (int i = 0; i < coverage.Missing.Length; i++)
            {
                string reason = i < coverage.Reasons.Length && coverage.Reasons[i].Contains(": failed", StringComparison.Ordinal) ? "failed" : "deadline";
                ShoalTelemetry.MissingShards.Add(1, index, new("reason", reason));
            }
        }
        activity?.SetTag("shoal.channels", channels);
        activity?.SetTag("shoal.shards", coverage.Shards);
        activity?.SetTag("shoal.answered", coverage.Answered);
        activity?.SetTag("shoal.hits", response.Hits.Length);
    }
}
