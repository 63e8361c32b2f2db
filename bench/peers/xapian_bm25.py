#!/usr/bin/python3
"""Xapian BM25 peer for Shoal's `text` benchmark.

Reads the same BEIR corpus.jsonl and a TSV of queries (qid<TAB>text) that the benchmark wrote,
indexes title+text as one field with English Porter stemming, runs every query single-threaded
with BM25 (k1, b as given) and prints `PEER {json}` with index seconds, mean ms/query and the
top-10 ids per query (for agreement with Shoal).
usage: xapian_bm25.py CORPUS.jsonl QUERIES.tsv K1 B
"""
import json, sys, time, tempfile, shutil
import xapian

corpus, queries_path, k1, b = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
stem = xapian.Stem("english")
tmp = tempfile.mkdtemp(prefix="xapian-bm25-")
try:
    t0 = time.perf_counter()
    db = xapian.WritableDatabase(tmp, xapian.DB_CREATE_OR_OVERWRITE)
    tg = xapian.TermGenerator()
    tg.set_stemmer(stem)
    tg.set_stemming_strategy(xapian.TermGenerator.STEM_ALL)
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            d = json.loads(line)
            doc = xapian.Document()
            tg.set_document(doc)
            tg.index_text((d.get("title") or "") + " " + d["text"])
            doc.set_data(d["_id"])
            db.add_document(doc)
    db.commit()
    index_s = time.perf_counter() - t0

    qp = xapian.QueryParser()
    qp.set_stemmer(stem)
    qp.set_stemming_strategy(xapian.QueryParser.STEM_ALL)
    qp.set_default_op(xapian.Query.OP_OR)
    enquire = xapian.Enquire(db)
    enquire.set_weighting_scheme(xapian.BM25Weight(k1, 0, 1, b, 0.5))
    queries = []
    with open(queries_path, encoding="utf-8") as f:
        for line in f:
            qid, text = line.rstrip("\n").split("\t", 1)
            queries.append((qid, qp.parse_query(text, 0)))
    for _, q in queries[:20]:  # warm-up
        enquire.set_query(q); enquire.get_mset(0, 10)
    top = {}
    t0 = time.perf_counter()
    for qid, q in queries:
        enquire.set_query(q)
        top[qid] = [m.document.get_data().decode() for m in enquire.get_mset(0, 10)]
    ms = (time.perf_counter() - t0) * 1000 / len(queries)
    print("PEER " + json.dumps({"index_s": index_s, "ms_per_query": ms, "top10": top}))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
