#!/usr/bin/env python3
"""PyTorch baseline for engine_bench_cuda: decode tokens/s of the Llama-3.2-1B shape (hidden 2048,
16 layers, 32 heads, 8 KV heads, head dim 64, FFN 8192, vocab 128256, tied LM head), bf16, random
weights, a dense KV cache [batch, kv_heads, context + 1, head_dim] per layer with random values. One
decode step (RMSNorm, fused QKV, RoPE on adjacent pairs, KV write at position `context`, SDPA with
GQA, o-proj, SwiGLU, LM head, argmax) is captured with torch.cuda.CUDAGraph and replayed; the median
replay time per batch gives tokens/s.
Usage: bench-engine-torch.py [--out FILE.json] [--batches 1,8,32,64,128] [--context 2048] [--iters 20]
Exit: 0 done, 1 a batch failed, 77 no CUDA device."""
import argparse
import json
import statistics
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover
    print(f"SKIP: PyTorch not importable: {e}")
    sys.exit(77)

HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, FFN, VOCAB = 2048, 16, 32, 8, 64, 8192, 128256
EPS, THETA = 1e-5, 500000.0


def rmsnorm(x, w):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + EPS)).to(x.dtype) * w


def rope(x, cos, sin):
    # x [B, H, 1, D]: rotate adjacent pairs (x[2i], x[2i+1]) by the position's angles.
    x2 = x.float().unflatten(-1, (-1, 2))
    a, b = x2[..., 0], x2[..., 1]
    return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2).to(x.dtype)


def make_weights(dev):
    dt = torch.bfloat16
    g = torch.Generator(device=dev).manual_seed(0)

    def w(o, i):
        return ((torch.rand(o, i, device=dev, generator=g) * 2 - 1) / i**0.5).to(dt)

    layers = []
    for _ in range(LAYERS):
        layers.append(dict(
            ln1=torch.ones(HIDDEN, device=dev, dtype=dt),
            wqkv=w((HEADS + 2 * KV_HEADS) * HEAD_DIM, HIDDEN),
            wo=w(HIDDEN, HEADS * HEAD_DIM),
            ln2=torch.ones(HIDDEN, device=dev, dtype=dt),
            wgu=w(2 * FFN, HIDDEN),
            wd=w(HIDDEN, FFN)))
    emb = w(VOCAB, HIDDEN)
    return layers, emb, torch.ones(HIDDEN, device=dev, dtype=dt)


def sdpa_gqa(q, k, v):
    try:
        return F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    except TypeError:  # torch < 2.5: no enable_gqa
        rep = HEADS // KV_HEADS
        return F.scaled_dot_product_attention(q, k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1))


def time_batch(batch, context, iters, layers, emb, lnf, dev):
    dt = torch.bfloat16
    kc = [torch.randn(batch, KV_HEADS, context + 1, HEAD_DIM, device=dev, dtype=dt) for _ in range(LAYERS)]
    vc = [torch.randn(batch, KV_HEADS, context + 1, HEAD_DIM, device=dev, dtype=dt) for _ in range(LAYERS)]
    tok = torch.randint(0, VOCAB, (batch,), device=dev)
    inv_freq = THETA ** (-torch.arange(0, HEAD_DIM, 2, device=dev, dtype=torch.float64) / HEAD_DIM)
    angle = (context * inv_freq).float()
    cos, sin = torch.cos(angle), torch.sin(angle)
    qd, kd = HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM

    def step():
        x = emb[tok]
        for l, k_cache, v_cache in zip(layers, kc, vc):
            qkv = rmsnorm(x, l["ln1"]) @ l["wqkv"].t()
            q = qkv[:, :qd].view(batch, HEADS, 1, HEAD_DIM)
            k = qkv[:, qd:qd + kd].view(batch, KV_HEADS, 1, HEAD_DIM)
            v = qkv[:, qd + kd:].view(batch, KV_HEADS, 1, HEAD_DIM)
            q, k = rope(q, cos, sin), rope(k, cos, sin)
            k_cache[:, :, context:context + 1].copy_(k)
            v_cache[:, :, context:context + 1].copy_(v)
            o = sdpa_gqa(q, k_cache, v_cache)
            x = x + o.reshape(batch, qd) @ l["wo"].t()
            gu = rmsnorm(x, l["ln2"]) @ l["wgu"].t()
            x = x + (F.silu(gu[:, :FFN]) * gu[:, FFN:]) @ l["wd"].t()
        return (rmsnorm(x, lnf) @ emb.t()).float().argmax(-1)

    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s), torch.no_grad():
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), torch.no_grad():
        out = step()
    for _ in range(3):
        graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        graph.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    del graph, out, kc, vc
    ms = statistics.median(times)
    return {"batch": batch, "median_ms": ms, "tokens_per_s": batch / (ms * 1e-3)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out")
    p.add_argument("--batches", default="1,8,32,64,128")
    p.add_argument("--context", type=int, default=2048)
    p.add_argument("--iters", type=int, default=20)
    a = p.parse_args()
    if not torch.cuda.is_available():
        print("SKIP: no CUDA device for PyTorch")
        return 77
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = True
    layers, emb, lnf = make_weights(dev)
    name = torch.cuda.get_device_name(0)
    print(f"device: {name}; torch {torch.__version__}")
    print(f"{'batch':>6} {'ms/step':>10} {'tokens/s':>12}")
    results, ok = [], True
    for b in [int(x) for x in a.batches.split(",")]:
        try:
            r = time_batch(b, a.context, a.iters, layers, emb, lnf, dev)
        except Exception as e:  # report and go on with the next batch
            print(f"FAIL batch {b}: {type(e).__name__}: {e}")
            ok = False
            torch.cuda.empty_cache()
            continue
        results.append(r)
        print(f"{b:>6} {r['median_ms']:>10.3f} {r['tokens_per_s']:>12.1f}", flush=True)
        torch.cuda.empty_cache()
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"engine": "pytorch", "torch": torch.__version__, "device": name, "context": a.context,
                       "iters": a.iters, "results": results}, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
