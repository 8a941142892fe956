"""Ideas beside the default probe, compared on the VALIDATION split (the test split only with --test, and only for
the row validation chose):

- the probe as `fit_probe` makes it (the default detector's recipe), and with test-time mirror averaging;
- patch-level scoring (Chai et al. 2020): every cell of the probe's 8 x 8 grid, with the three taps' channel means
  there, is a training example with its image's label; an image's score is the mean (or the mean of the top 8) of its
  cells' log-odds. It reads the probe's cached features: no extra network pass;
- a logistic regression on the full 2-D log-DCT spectrum of the framed face's luminance (Frank et al. 2020);
- stacking: a logistic regression on the log-odds of the others, judged by 5-fold cross-validation on the valid split.

--dataset rff re-encodes the Photoshop composites at JPEG 90 first (`facefake.kinds.reencoded_copy`), so that the
file format gives nothing away, and asks the same questions there.

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch FACEFAKE_CACHE=... \\
      .venv/bin/python bench/indomain_bench.py --dataset faces140k-sample --test --json-out bench/results/indomain.json
"""
import argparse, datetime as dt, json, os, platform, sys, time
from pathlib import Path
import numpy as np, pandas as pd, torch
from scipy.fft import dctn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import StandardScaler
from facefake.core import prepare
from facefake.faces import frame_image
from facefake.kinds import reencoded_copy
from facefake.metrics import binary_metrics, log_odds, sigmoid, youden_threshold
from facefake.probe import cached_features, fit_probe, probe_cache_key, probe_training_features
from facefake.splits import load_dataset

def grid_layout(body) -> list:
    "`(start, channels)` of each tap's grid block in the probe's feature vector (channel-major C x g x g), and g."
    with torch.no_grad(): parts = body.summaries(torch.zeros(1, 3, 64, 64))
    spans, start = [], 0
    for (tap, kind), v in parts.items():
        if kind == 'grid': spans.append((start, v.shape[1] // body.grid ** 2))
        start += v.shape[1]
    return spans, body.grid

def cells(X, spans, g) -> np.ndarray:
    "(n, g*g, channels): each grid cell's channel means over all taps."
    return np.concatenate([X[:, s:s + c * g * g].reshape(len(X), c, g * g).transpose(0, 2, 1) for s, c in spans], axis=2)

def log_dct(paths, framing, size:int) -> np.ndarray:
    "Log-magnitude 2-D DCT of each framed, prepared image's luminance, flattened (float32)."
    out = np.zeros((len(paths), size * size), dtype=np.float32)
    for i, p in enumerate(paths):
        g = np.asarray(prepare(frame_image(p, framing, whole_if_no_face=True)[0], size).convert('L'), dtype=np.float64)
        out[i] = np.log(np.abs(dctn(g, norm='ortho')) + 1e-6).ravel()
    return out

def fit_lr(Xt, yt, Xv, yv, Cs):
    "Standardised logistic regression, C chosen by validation AUC of the per-row scores: (C, model, scaler)."
    sc = StandardScaler().fit(Xt)
    fits = [(C, LogisticRegression(C=C, max_iter=1000).fit(sc.transform(Xt), yt)) for C in Cs]
    C, m = max(fits, key=lambda cm: roc_auc_score(yv, cm[1].decision_function(sc.transform(Xv))))
    return C, m, sc

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--dataset', default='faces140k-sample', choices=['faces140k-sample', 'rff'])
    ap.add_argument('--dct-size', type=int, default=128)
    ap.add_argument('--top', type=int, default=8, help='cells averaged for the top-k patch score')
    ap.add_argument('--test', action='store_true', help='score the row validation chose on the test split')
    ap.add_argument('--json-out')
    a = ap.parse_args()
    if a.json_out and Path(a.json_out).exists(): ap.error(f'{a.json_out} exists; give a new file')
    df = load_dataset(reencoded_copy('rff-part', 90) if a.dataset == 'rff' else a.dataset)
    t = time.time()
    det, _ = fit_probe(df, progress=True)   # the default detector's recipe (features from the cache when it holds them)
    print(f'probe: {time.time() - t:.0f} s', flush=True)
    body, size, framing = det.model[0], det.size, det.framing
    key = probe_cache_key(det.card['arch'], size, framing)
    parts = {s: df[df.split == s] for s in ('train', 'valid', 'test')}
    y = {s: (d.label == 'fake').to_numpy().astype(int) for s, d in parts.items()}
    feats = lambda s, variant='clean', flip=False: cached_features(body, list(parts[s].path), size, key, variant, flip=flip, framing=framing)
    rows, score = [], {}   # score[name][split]: log-odds per image
    def add(name, valid, **kw):
        rows.append(dict(model=name, valid_auc=round(float(roc_auc_score(y['valid'], valid)), 4), **kw)); print(rows[-1], flush=True)
    score['probe'] = {s: log_odds(det.p_fake(list(parts[s].path))) for s in ('valid', 'test')}
    add('probe (the default detector)', score['probe']['valid'])
    score['mirror'] = {s: (score['probe'][s] + det.scores(det.model[1](torch.from_numpy(feats(s, 'flip', True)).float()[:, :, None, None]).detach().numpy())
                           * det.calibration['a'] + det.calibration['b']) / 2 for s in ('valid', 'test')}
    add('probe, mean log-odds of the face and its mirror image (test-time augmentation)', score['mirror']['valid'])
    # patch-level: every grid cell a training example
    t = time.time()
    spans, g = grid_layout(body)
    Xt, yt = probe_training_features(df, body, size, framing=framing, cache_key=key)
    Ct = cells(Xt, spans, g); n_cells = Ct.shape[1]
    C, m, sc = fit_lr(Ct.reshape(-1, Ct.shape[2]), np.repeat(yt, n_cells), cells(feats('valid'), spans, g).reshape(-1, Ct.shape[2]),
                      np.repeat(y['valid'], n_cells), Cs=(1e-3, 1e-2, 1e-1))
    cell_scores = {s: m.decision_function(sc.transform(cells(feats(s), spans, g).reshape(-1, Ct.shape[2]))).reshape(-1, n_cells) for s in ('valid', 'test')}
    secs = round(time.time() - t)
    score['patch mean'] = {s: v.mean(1) for s, v in cell_scores.items()}
    score['patch top'] = {s: np.sort(v, 1)[:, -a.top:].mean(1) for s, v in cell_scores.items()}
    add(f'patch-level: logistic regression on each of the {n_cells} grid cells (C={C:g}), image score = mean of cell log-odds',
        score['patch mean']['valid'], seconds=secs)
    add(f'patch-level, image score = mean of its {a.top} most fake-looking cells', score['patch top']['valid'])
    # 2-D log-DCT
    t = time.time()
    D = {s: log_dct(list(parts[s].path), framing, a.dct_size) for s in parts}
    C, m, sc = fit_lr(D['train'], y['train'], D['valid'], y['valid'], Cs=(1e-4, 1e-3, 1e-2))
    score['dct'] = {s: m.decision_function(sc.transform(D[s])) for s in ('valid', 'test')}
    add(f'logistic regression on the 2-D log-DCT of the {a.dct_size}-px face (C={C:g})', score['dct']['valid'], seconds=round(time.time() - t))
    # stacking
    names = ['probe', 'patch mean', 'patch top', 'dct']
    Z = {s: np.c_[tuple(score[n][s] for n in names)] for s in ('valid', 'test')}
    cv = cross_val_predict(LogisticRegression(), Z['valid'], y['valid'], cv=StratifiedKFold(5, shuffle=True, random_state=0), method='decision_function')
    score['stack'] = {'valid': cv, 'test': LogisticRegression().fit(Z['valid'], y['valid']).decision_function(Z['test'])}
    add(f"stacking: logistic regression on the {', '.join(names)} log-odds (5-fold CV on the valid split)", score['stack']['valid'])
    print(pd.DataFrame(rows).to_string(index=False))
    result = dict(bench='indomain', dataset=a.dataset, date=dt.datetime.now().isoformat(timespec='seconds'), machine=platform.machine(),
                  cpus=os.cpu_count(), torch_threads=torch.get_num_threads(), command='python ' + ' '.join(sys.argv), rows=rows)
    if a.test:
        keys = ['probe', 'mirror', 'patch mean', 'patch top', 'dct', 'stack']
        best = int(np.argmax([r['valid_auc'] for r in rows]))
        k = keys[best]
        thr = youden_threshold(y['valid'], sigmoid(score[k]['valid']))   # chosen on the valid split's (cross-validated, for stacking) scores
        mt = binary_metrics(y['test'], sigmoid(score[k]['test']), thr)
        result['test'] = dict(model=rows[best]['model'], **{m: mt[m] for m in ('accuracy', 'roc_auc', 'average_precision', 'tpr_at_1pct_fpr', 'tpr_at_5pct_fpr', 'threshold')})
        print('validation chose:', result['test'], flush=True)
    if a.json_out: Path(a.json_out).write_text(json.dumps(result, indent=2, default=float) + '\n')

if __name__ == '__main__': main()
