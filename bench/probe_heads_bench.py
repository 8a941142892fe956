"""Does a different classifier on the linear probe's features do better than its logistic regression? Validation only.

Computes the features exactly as `fit_probe` does (MobileNetV2 taps 10, 13, 16 on an 8 x 8 grid; the training split, its
mirror images and two degraded copies; the validation split), once, then fits on the same training rows and scores on
the validation split (never the test split):

- `logistic`: `fit_logistic`, the probe itself (its best validation AUC must equal the probe's);
- `logistic + mirror`: the same regression, each validation face scored as the mean logit of it and its mirror image;
- `linear SVM`: `LinearSVC` on the standardised features, C chosen on the validation split;
- `RBF SVM`: PCA to 512 components, then an RBF-kernel `SVC` (the kernel on all 21,120 features is too
  slow on a CPU).

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch \
      .venv/bin/python bench/probe_heads_bench.py --dataset faces140k-sample --size 384 --cache runs/f140-feats384.npz

--cache keeps the features in an .npz file (about 1 GB at 384 px) so that a second run skips the network; a cache made
with other settings is refused rather than reused.
"""
import argparse, json, time, warnings
from pathlib import Path
warnings.filterwarnings('ignore')
import numpy as np, pandas as pd
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score
from sklearn.svm import LinearSVC, SVC
from facefake.core import CLASSES
from facefake.splits import load_dataset
from facefake.detector import build_model
from facefake.probe import PROBE_HEAD, split_features, probe_training_features, fit_logistic

def features(df, arch, size, forensic, seed):
    "Training features (original, mirrored, `forensic` degraded copies), validation features and their mirrors, as fit_probe."
    body = build_model(arch, len(CLASSES), pretrained=True, head=PROBE_HEAD)[0]
    Xt, yt = probe_training_features(df, body, size, forensic=forensic, seed=seed)
    Xv, yv = split_features(df, 'valid', body, size)
    Xvm, _ = split_features(df, 'valid', body, size, flip=True)
    return dict(Xt=Xt, yt=yt, Xv=Xv, yv=yv, Xvm=Xvm)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dataset', default='faces140k-sample')
    ap.add_argument('--arch', default='mobilenet_v2_taps8')
    ap.add_argument('--size', type=int, default=384)
    ap.add_argument('--degraded', type=int, default=2)
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--limit', type=int, default=None, help='at most this many images per class (a quick check of the script)')
    ap.add_argument('--cache', help='an .npz file for the features: read when it exists (and matches), else written')
    ap.add_argument('--json-out', help='also write the table here (a new file)')
    a = ap.parse_args()
    if a.json_out and Path(a.json_out).exists(): ap.error(f'{a.json_out} exists; give a new file')
    key = f"{a.dataset}|{a.arch}|{a.size}|{a.degraded}|{a.seed}|{a.limit}"
    t0 = time.time()
    if a.cache and Path(a.cache).exists():
        z = np.load(a.cache, allow_pickle=False)
        if str(z['key']) != key: raise SystemExit(f"{a.cache} holds features for {z['key']}, not {key}; give another --cache")
        f = {k: z[k] for k in ('Xt', 'yt', 'Xv', 'yv', 'Xvm')}
    else:
        f = features(load_dataset(a.dataset, limit=a.limit), a.arch, a.size, a.degraded, a.seed)
        if a.cache: np.savez(a.cache, key=np.array(key), **f)
    print(f"features {f['Xt'].shape} train, {f['Xv'].shape} valid: {time.time() - t0:.0f} s", flush=True)
    Xt, yt, Xv, yv, Xvm = f['Xt'], f['yt'], f['Xv'], f['yv'], f['Xvm']
    rows = []
    def add(name, C, scores, secs): rows.append(dict(classifier=name, C=C, valid_auc=round(roc_auc_score(yv, scores), 4), seconds=round(secs, 1)))

    t = time.time(); scaler, clf, table = fit_logistic(Xt, yt, Xv, yv)
    secs = (time.time() - t) / len(table)   # fit_logistic fits one regression per C
    rows += [dict(classifier='logistic', C=C, valid_auc=round(auc, 4), seconds=round(secs, 1)) for C, auc in table.valid_auc.items()]
    Zv, Zvm = scaler.transform(Xv), scaler.transform(Xvm)
    add('logistic + mirror (best C)', float(clf.C), (clf.decision_function(Zv) + clf.decision_function(Zvm)) / 2, 0)
    Zt = scaler.transform(Xt)
    for C in (1e-5, 1e-4, 1e-3):
        t = time.time(); svm = LinearSVC(C=C, max_iter=20000).fit(Zt, yt)
        add('linear SVM', C, svm.decision_function(Zv), time.time() - t)
    t = time.time(); pca = PCA(min(512, len(Zt) - 1), whiten=False, random_state=a.seed).fit(Zt)
    Pt, Pv = pca.transform(Zt), pca.transform(Zv)
    print(f"PCA: {pca.explained_variance_ratio_.sum():.3f} of the variance in {pca.n_components_} components, {time.time() - t:.0f} s", flush=True)
    for C in (0.3, 1., 3., 10.):
        t = time.time(); svc = SVC(C=C, kernel='rbf', gamma='scale').fit(Pt, yt)
        add(f'PCA {pca.n_components_} + RBF SVM', C, svc.decision_function(Pv), time.time() - t)
    out = pd.DataFrame(rows)
    print(out.to_string(index=False), flush=True)
    if a.json_out: Path(a.json_out).write_text(json.dumps(dict(args=vars(a), rows=rows), indent=2, default=str))

if __name__ == '__main__': main()
