// Integration tests start real silos, HTTP servers and builds; on a 2-core machine running them
// one at a time is faster and keeps timing-sensitive behaviour (deadlines) honest.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
