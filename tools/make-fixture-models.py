#!/usr/bin/python3
"""Writes the small ONNX fixture models that Shoal's encoder tests run, and a JSON sidecar of
expected outputs computed here in numpy (independently of ONNX Runtime and of the C# code).

    /usr/bin/python3 tools/make-fixture-models.py            # writes tests/fixtures/models/
    (Debian: apt-get install -y python3-onnx python3-numpy)

The models are real graphs with random weights (fixed seeds), shaped like the models Shoal is
pointed at in deployment, but tiny so that the committed files stay well under 1 MB:

* dense-tiny.onnx -- BERT-shaped sentence encoder. Inputs input_ids, attention_mask,
  token_type_ids (int64 [batch, seq]); output last_hidden_state (float [batch, seq, 8]).
* splade-tiny.onnx -- MLM-head shaped. Inputs input_ids, attention_mask (no token_type_ids);
  output logits (float [batch, seq, 30522]).
* splade-pairs-tiny.onnx -- the same network with SPLADE pooling and top-k inside the graph:
  outputs indices (int64 [batch, 16]) and weights (float [batch, 16]).
* bad-inputs.onnx -- inputs named ids / mask, for the "wrong input names" test.

Token embeddings cover the whole 30,522-id bert-base-uncased vocabulary without storing a
30,522-row table: the embedding of id v is A[v mod 997] + B[v div 997]. (mod, div) is a
bijection on ids, so every id has its own vector, and A, B hold (997 + 31) rows. The SPLADE
models tie the output projection to that embedding (logits = h . U^T, U the full 30,522-row
embedding, built inside the graph with Range/Mod/Div/Gather), as BERT's MLM head does.
"""

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

VOCAB = 30522
BUCKETS = 997
HIGH = (VOCAB - 1) // BUCKETS + 1  # rows of B: 31
OPSET = 13
PAIRS_K = 16
SPLADE_SCALE = 3.0
SPLADE_BIAS = -6.0

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "models")


def f32(a):
    return np.asarray(a, dtype=np.float32)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def int_input(name):
    return helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])


def save(model, name):
    model.producer_name = "shoal/tools/make-fixture-models.py"
    onnx.checker.check_model(model)
    path = os.path.join(OUT, name)
    onnx.save(model, path)
    return path


def token_embedding_nodes(prefix, ids, a, b, out):
    """out = A[ids mod 997] + B[ids div 997]."""
    return [
        helper.make_node("Mod", [ids, "buckets"], [prefix + "_lo"], fmod=0),
        helper.make_node("Div", [ids, "buckets"], [prefix + "_hi"]),
        helper.make_node("Gather", [a, prefix + "_lo"], [prefix + "_ea"], axis=0),
        helper.make_node("Gather", [b, prefix + "_hi"], [prefix + "_eb"], axis=0),
        helper.make_node("Add", [prefix + "_ea", prefix + "_eb"], [out]),
    ]


def masked_mean_nodes(x, mask_f, out):
    """out[b, 1, :] = sum_s x[b, s, :] * mask[b, s] / max(sum_s mask[b, s], 1)."""
    return [
        helper.make_node("Mul", [x, mask_f], [out + "_xm"]),
        helper.make_node("ReduceSum", [out + "_xm", "axis1"], [out + "_sum"], keepdims=1),
        helper.make_node("ReduceSum", [mask_f, "axis1"], [out + "_cnt"], keepdims=1),
        helper.make_node("Max", [out + "_cnt", "one_f"], [out + "_den"]),
        helper.make_node("Div", [out + "_sum", out + "_den"], [out]),
    ]


def mask_nodes():
    return [
        helper.make_node("Cast", ["attention_mask"], ["mask_c"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_c", "axis2"], ["mask_f"]),
    ]


def common_inits():
    return [
        init("buckets", np.array(BUCKETS, dtype=np.int64)),
        init("axis1", np.array([1], dtype=np.int64)),
        init("axis2", np.array([2], dtype=np.int64)),
        init("one_f", f32(1.0)),
    ]


# ----------------------------------------------------------------------------------------------
# numpy references (the same arithmetic, written directly)

def np_embed(ids, a, b):
    return a[ids % BUCKETS] + b[ids // BUCKETS]


def np_masked_mean(x, mask):
    m = mask.astype(np.float32)[:, :, None]
    return (x * m).sum(axis=1, keepdims=True) / np.maximum(m.sum(axis=1, keepdims=True), np.float32(1))


def np_tanh(x):
    return np.tanh(x).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# dense-tiny

def dense_weights(rng, hidden=8):
    return {
        "A": f32(rng.normal(0, 0.5, (BUCKETS, hidden))),
        "B": f32(rng.normal(0, 0.5, (HIGH, hidden))),
        "T": f32(rng.normal(0, 0.5, (2, hidden))),
        "W1": f32(rng.normal(0, 0.6, (hidden, hidden))),
        "b1": f32(rng.normal(0, 0.1, (hidden,))),
        "W2": f32(rng.normal(0, 0.6, (hidden, hidden))),
        "W3": f32(rng.normal(0, 0.6, (hidden, hidden))),
        "b2": f32(rng.normal(0, 0.1, (hidden,))),
    }


def make_dense(w):
    hidden = w["W1"].shape[0]
    nodes = token_embedding_nodes("tok", "input_ids", "A", "B", "e")
    nodes += [
        helper.make_node("Gather", ["T", "token_type_ids"], ["t"], axis=0),
        helper.make_node("Add", ["e", "t"], ["x"]),
        helper.make_node("MatMul", ["x", "W1"], ["xw1"]),
        helper.make_node("Add", ["xw1", "b1"], ["xw1b"]),
        helper.make_node("Tanh", ["xw1b"], ["h"]),
    ]
    nodes += mask_nodes()
    nodes += masked_mean_nodes("h", "mask_f", "ctx")
    nodes += [
        helper.make_node("MatMul", ["h", "W2"], ["hw2"]),
        helper.make_node("MatMul", ["ctx", "W3"], ["cw3"]),
        helper.make_node("Add", ["hw2", "cw3"], ["y0"]),
        helper.make_node("Add", ["y0", "b2"], ["y1"]),
        helper.make_node("Tanh", ["y1"], ["last_hidden_state"]),
    ]
    graph = helper.make_graph(
        nodes, "dense_tiny",
        [int_input("input_ids"), int_input("attention_mask"), int_input("token_type_ids")],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden])],
        [init(k, v) for k, v in w.items()] + common_inits())
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def np_dense(w, ids, mask, types):
    x = np_embed(ids, w["A"], w["B"]) + w["T"][types]
    h = np_tanh(x @ w["W1"] + w["b1"])
    ctx = np_masked_mean(h, mask)
    return np_tanh(h @ w["W2"] + ctx @ w["W3"] + w["b2"])


# ----------------------------------------------------------------------------------------------
# splade-tiny and splade-pairs-tiny

def splade_weights(rng, hidden=4):
    return {
        "A": f32(rng.normal(0, 0.5, (BUCKETS, hidden))),
        "B": f32(rng.normal(0, 0.5, (HIGH, hidden))),
        "W1": f32(rng.normal(0, 0.8, (hidden, hidden))),
        "W2": f32(rng.normal(0, 0.8, (hidden, hidden))),
        "b1": f32(rng.normal(0, 0.1, (hidden,))),
    }


def splade_logit_nodes():
    nodes = token_embedding_nodes("tok", "input_ids", "A", "B", "e")
    nodes += mask_nodes()
    nodes += masked_mean_nodes("e", "mask_f", "ctx")
    nodes += [
        helper.make_node("MatMul", ["e", "W1"], ["ew1"]),
        helper.make_node("MatMul", ["ctx", "W2"], ["cw2"]),
        helper.make_node("Add", ["ew1", "cw2"], ["z0"]),
        helper.make_node("Add", ["z0", "b1"], ["z1"]),
        helper.make_node("Tanh", ["z1"], ["h"]),
        # The tied output embedding U [30522, hidden], built from A and B in the graph.
        helper.make_node("Range", ["zero_i", "vocab_i", "one_i"], ["all_ids"]),
    ]
    nodes += token_embedding_nodes("voc", "all_ids", "A", "B", "U")
    nodes += [
        helper.make_node("Transpose", ["U"], ["Ut"], perm=[1, 0]),
        helper.make_node("MatMul", ["h", "Ut"], ["hu"]),
        helper.make_node("Mul", ["hu", "scale"], ["hus"]),
        helper.make_node("Add", ["hus", "bias"], ["logits"]),
    ]
    return nodes


def splade_inits(w):
    return [init(k, v) for k, v in w.items()] + common_inits() + [
        init("zero_i", np.array(0, dtype=np.int64)),
        init("one_i", np.array(1, dtype=np.int64)),
        init("vocab_i", np.array(VOCAB, dtype=np.int64)),
        init("scale", f32(SPLADE_SCALE)),
        init("bias", f32(SPLADE_BIAS)),
    ]


def make_splade(w):
    graph = helper.make_graph(
        splade_logit_nodes(), "splade_tiny",
        [int_input("input_ids"), int_input("attention_mask")],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "sequence", VOCAB])],
        splade_inits(w))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def make_splade_pairs(w):
    nodes = splade_logit_nodes()
    nodes += [
        helper.make_node("Relu", ["logits"], ["r"]),
        helper.make_node("Add", ["r", "one_f"], ["r1"]),
        helper.make_node("Log", ["r1"], ["act"]),
        helper.make_node("Mul", ["act", "mask_f"], ["act_m"]),
        helper.make_node("ReduceMax", ["act_m"], ["pooled"], axes=[1], keepdims=0),
        helper.make_node("TopK", ["pooled", "k"], ["weights", "indices"], axis=-1, largest=1, sorted=1),
    ]
    graph = helper.make_graph(
        nodes, "splade_pairs_tiny",
        [int_input("input_ids"), int_input("attention_mask")],
        [helper.make_tensor_value_info("indices", TensorProto.INT64, ["batch", PAIRS_K]),
         helper.make_tensor_value_info("weights", TensorProto.FLOAT, ["batch", PAIRS_K])],
        splade_inits(w) + [init("k", np.array([PAIRS_K], dtype=np.int64))])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def np_splade_logits(w, ids, mask):
    e = np_embed(ids, w["A"], w["B"])
    ctx = np_masked_mean(e, mask)
    h = np_tanh(e @ w["W1"] + ctx @ w["W2"] + w["b1"])
    all_ids = np.arange(VOCAB)
    u = np_embed(all_ids, w["A"], w["B"])
    return f32(f32(h @ u.T) * np.float32(SPLADE_SCALE) + np.float32(SPLADE_BIAS))


def np_splade_pooled(w, ids, mask):
    act = np.log(np.float32(1) + np.maximum(np_splade_logits(w, ids, mask), np.float32(0))).astype(np.float32)
    act = act * mask.astype(np.float32)[:, :, None]
    return act.max(axis=1)


def top_terms(row, k):
    """The k largest positive entries as [id, weight], by weight descending; checks that the
    k-th and (k+1)-th weights are far enough apart for the cut to be unambiguous."""
    order = np.argsort(-row, kind="stable")
    assert row[order[k - 1]] > 0
    assert row[order[k - 1]] - row[order[k]] > 1e-4, "ambiguous top-k cut; change the case"
    return [[int(i), float(row[i])] for i in order[:k]]


# ----------------------------------------------------------------------------------------------
# bad-inputs

def make_bad_inputs():
    nodes = [
        helper.make_node("Mod", ["ids", "ten"], ["lo"], fmod=0),
        helper.make_node("Gather", ["E", "lo"], ["e"], axis=0),
        helper.make_node("Cast", ["mask"], ["mc"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mc", "axis2"], ["mf"]),
        helper.make_node("Mul", ["e", "mf"], ["last_hidden_state"]),
    ]
    graph = helper.make_graph(
        nodes, "bad_inputs",
        [int_input("ids"), int_input("mask")],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", 2])],
        [init("E", f32(np.arange(20).reshape(10, 2) / 10)), init("ten", np.array(10, dtype=np.int64)),
         init("axis2", np.array([2], dtype=np.int64))])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


# ----------------------------------------------------------------------------------------------

def batch(rows):
    """Right-pads id rows with 0 ([PAD]) and returns (ids, mask)."""
    width = max(len(r) for r in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = r
        mask[i, :len(r)] = 1
    return ids, mask


def l2(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def main():
    os.makedirs(OUT, exist_ok=True)
    # Id rows are real bert-base-uncased ids ([CLS] ... [SEP]); the last row uses ids past
    # 29,911 so that B[v div 997] reaches its last row.
    rows = [
        [101, 7592, 2088, 102],                      # [CLS] hello world [SEP]
        [101, 1996, 4248, 2829, 4419, 14523, 102],   # [CLS] the quick brown fox jumps [SEP]
        [101, 30000, 30521, 29999, 102],
    ]
    ids, mask = batch(rows)
    types = np.zeros_like(ids)
    types[1, 3:5] = 1  # a few segment-B tokens, so token_type_ids matters

    dense_w = dense_weights(np.random.default_rng(20240501))
    splade_w = splade_weights(np.random.default_rng(20240502))
    paths = [
        save(make_dense(dense_w), "dense-tiny.onnx"),
        save(make_splade(splade_w), "splade-tiny.onnx"),
        save(make_splade_pairs(splade_w), "splade-pairs-tiny.onnx"),
        save(make_bad_inputs(), "bad-inputs.onnx"),
    ]

    hidden = np_dense(dense_w, ids, mask, types)
    m = mask.astype(np.float32)[:, :, None]
    mean = (hidden * m).sum(axis=1) / m.sum(axis=1)
    cls = hidden[:, 0, :]
    pooled = np_splade_pooled(splade_w, ids, mask)
    top_k = 20

    sidecar = {
        "generator": "tools/make-fixture-models.py (numpy, float32)",
        "input_ids": ids.tolist(),
        "attention_mask": mask.tolist(),
        "token_type_ids": types.tolist(),
        "dense-tiny.onnx": {
            "hidden": int(hidden.shape[-1]),
            "last_hidden_state": hidden.tolist(),
            "cls": cls.tolist(),
            "mean": mean.tolist(),
            "mean_normalized": l2(mean).tolist(),
            "cls_normalized": l2(cls).tolist(),
        },
        "splade-tiny.onnx": {
            "vocab": VOCAB,
            "top_k": top_k,
            # Per row: the top_k (id, weight) of max_s mask * log(1 + relu(logits)), weight-descending.
            "top_terms": [top_terms(pooled[i], top_k) for i in range(len(rows))],
            "positive_terms": [int((pooled[i] > 0).sum()) for i in range(len(rows))],
        },
        "splade-pairs-tiny.onnx": {
            "k": PAIRS_K,
            "top_terms": [top_terms(pooled[i], PAIRS_K) for i in range(len(rows))],
        },
    }
    with open(os.path.join(OUT, "fixtures.json"), "w", encoding="utf-8") as f:
        json.dump(sidecar, f, indent=1)
        f.write("\n")

    total = 0
    for p in paths + [os.path.join(OUT, "fixtures.json")]:
        size = os.path.getsize(p)
        total += size
        print(f"{os.path.relpath(p, ROOT)}: {size:,} bytes")
    print(f"total: {total:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
