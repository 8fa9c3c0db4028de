"""A PyTorch implementation of one GLE training step, for `npm run bench -- --torch` only.

Written from the equations in src/model/dynamics.ts (Jacobi update across layers, explicit Euler, prospective
errors, ce/mse top error, -<e r^T> gradients, torch.optim.Adam), in the way a PyTorch user would write it well:
three matrix products per layer (drive r W^T, weight gradient e^T r, error e W), torch elementwise ops, no
autograd. It is a speed baseline, not a second implementation of the library. With "grad": "bmm" the weight
gradient is formed the way the authors' reference code forms it (reference-gle.md §1): a B x out x in batch of
outer products from torch.bmm, then averaged over the batch.

Reads one JSON object on stdin:
  {"B", "dt", "beta", "loss": "ce"|"mse", "lr", "training": bool, "steps", "runs", "threads", "grad": "gemm"|"bmm",
   "layers": [{"nIn", "size", "phi", "bias", "tauM": [...], "tauR": [...], "gamma", "prospective"}]}
and prints {"torch": version, "threads": n, "rates": [steps/s per timed run]} on stdout.
"""
import json
import sys
import time

import torch

PHI = {
    "linear": lambda x: (x, torch.ones_like(x)),
    "tanh": lambda x: (lambda t: (t, 1 - t * t))(torch.tanh(x)),
    "sigmoid": lambda x: (lambda s: (s, s * (1 - s)))(torch.sigmoid(x)),
    "softplus": lambda x: (torch.nn.functional.softplus(x), torch.sigmoid(x)),
    "relu": lambda x: (torch.relu(x), (x > 0).to(x.dtype)),
}


def main():
    cfg = json.load(sys.stdin)
    torch.set_num_threads(int(cfg.get("threads", 1)))
    torch.manual_seed(0)
    B, dt, beta, training = cfg["B"], cfg["dt"], cfg["beta"], cfg["training"]
    bmm = cfg.get("grad", "gemm") == "bmm"
    layers = []
    for l in cfg["layers"]:
        bound = 1 / l["nIn"] ** 0.5
        layers.append({
            "W": torch.empty(l["size"], l["nIn"]).uniform_(-bound, bound),
            "b": torch.empty(l["size"]).uniform_(-bound, bound) if l["bias"] else None,
            "tauM": torch.tensor(l["tauM"], dtype=torch.float32),
            "tauR": torch.tensor(l["tauR"], dtype=torch.float32),
            "gamma": float(l["gamma"]), "pro": bool(l["prospective"]), "phi": PHI[l["phi"]],
        })
    params = [p for L in layers for p in (L["W"], L["b"]) if p is not None]
    opt = torch.optim.Adam(params, lr=cfg["lr"])
    z = lambda n: torch.zeros(B, n)
    state = [{"u": z(L["W"].shape[0]), "v": z(L["W"].shape[0]), "r": z(L["W"].shape[0]),
              "rp": z(L["W"].shape[0]), "eB": z(L["W"].shape[1])} for L in layers]
    nOut = layers[-1]["W"].shape[0]
    labels = torch.arange(B) % nOut
    onehot = torch.nn.functional.one_hot(labels, nOut).to(torch.float32)
    t = [0]

    def step():
        x = torch.full((B, layers[0]["W"].shape[1]), float(torch.sin(torch.tensor(0.1 * t[0]))))
        t[0] += 1
        y = state[-1]["r"]
        if not training:
            top = torch.zeros_like(y)
        elif cfg["loss"] == "ce":
            top = beta * (onehot - torch.softmax(y, 1))
        else:
            top = beta * (onehot - y)
        new = []
        for i, L in enumerate(layers):
            s = state[i]
            rb = x if i == 0 else state[i - 1]["r"]
            raw = top if i == len(layers) - 1 else state[i + 1]["eB"]
            drive = torch.addmm(L["b"], rb, L["W"].t()) if L["b"] is not None else rb @ L["W"].t()
            e = raw * s["rp"]
            if L["pro"]:
                vd = (e - s["v"]) / L["tauR"]
                pv = s["v"] + L["tauM"] * vd
                vN = s["v"] + dt * vd
            else:
                pv = vN = e
            ud = (drive + L["gamma"] * pv - s["u"]) / L["tauM"]
            uN = s["u"] + dt * ud
            r, rp = L["phi"](s["u"] + L["tauR"] * ud)
            n = {"u": uN, "v": vN, "r": r, "rp": rp, "eB": s["eB"]}
            if training:
                if bmm:
                    L["W"].grad = torch.bmm(pv.unsqueeze(2), rb.unsqueeze(1)).mean(0).neg_()
                else:
                    L["W"].grad = torch.mm(pv.t(), rb).mul_(-1.0 / B)
                if L["b"] is not None:
                    L["b"].grad = pv.mean(0).neg_()
                if i > 0:
                    n["eB"] = pv @ L["W"]
            new.append(n)
        state[:] = new
        if training:
            opt.step()

    with torch.no_grad():
        for _ in range(max(2, cfg["steps"] // 5)):
            step()
        rates = []
        for _ in range(cfg["runs"]):
            t0 = time.perf_counter()
            for _ in range(cfg["steps"]):
                step()
            rates.append(cfg["steps"] / (time.perf_counter() - t0))
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "grad": "bmm" if bmm else "gemm",
                      "rates": rates}))


main()
