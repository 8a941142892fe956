"""Ideas beside the default probe, compared on the VALIDATION split (the test split only with --test, and only for
the row validation chose):

- the probe as `fit_probe` makes it (the default detector's recipe), and with test-time mirror averaging;
- patch-level scoring (Chai et al. 2020): every cell of the probe's 8 x 8 grid, with the three taps' channel means
  there, is a training example with its image's label; an image's score is the mean (or the mean of the top 8) of its
  cells' log-odds. It reads the probe's cached features: no extra network pass;
- a logistic regression on the full 2-D log-DCT spectrum of the framed face's luminance (Frank et al. 2020);
- the same probe on the whole image at 256 px (the file's own pixels, no face crop and no resampling for
  `faces140k-sample`), and the mean of its log-odds with the face probe's (two views of one image);
- colour co-occurrence of high-pass residuals (after Nataraj et al. 2019, with the truncated residuals of
  steganalysis's rich models): first- and second-order pixel differences of each RGB channel of the file's own pixels,
  rounded and clipped to -2..2, counted as triplets along rows and columns in each channel and as (R, G, B) triplets
  at one pixel (1,000 bins), then a logistic regression;
- with --dataset rff, region crops: the eyes, nose and mouth of the aligned face at its own resolution, the probe's
  features of each, a logistic regression per region trained on the region's own label (the ciplab file names say
  which of left eye, right eye, nose and mouth were swapped), image score = the largest region log-odds;
- stacking: a logistic regression on the log-odds of the others, judged by 5-fold cross-validation on the valid split.

Framing matters beyond this sample: its files are aligned face squares, an upload rarely is. `loose_framing` scores the
face probe and the whole-image probe on the valid split as stored and loosely framed (each image pasted at its own size
in the middle of a canvas twice as wide, a blurred enlarged copy of itself around it), at their stored thresholds.

--dataset rff re-encodes the Photoshop composites at JPEG 90 first (`facefake.kinds.reencoded_copy`), so that the
file format gives nothing away, and asks the same questions there.

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch FACEFAKE_CACHE=... \\
      .venv/bin/python bench/indomain_bench.py --dataset faces140k-sample --test --json-out bench/results/indomain_faces140k.json
"""
import argparse, json, re, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd, torch
from scipy.fft import dctn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import StandardScaler
from facefake.core import RESAMPLE, gaussian_blur, load_image, prepare
from facefake.faces import frame_image
from facefake.kinds import reencoded_copy
from facefake.metrics import binary_metrics, log_odds, sigmoid, youden_threshold
from facefake.probe import cached_features, fit_probe, pooled_features, probe_cache_key, probe_training_features
from facefake.splits import load_dataset
from benchinfo import run_info

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

T_RES = 2   # residuals clipped to -T..T
def _triplets(a, b, c, n:int=2 * T_RES + 1) -> np.ndarray:
    return np.bincount((a * n * n + b * n + c).ravel(), minlength=n ** 3).astype(np.float64)

def residual_cooccurrence(path) -> np.ndarray:
    "Colour co-occurrence of the truncated first- and second-order residuals of an image file's own RGB pixels (1,000 bins, each block summing to 1)."
    x, out = np.asarray(load_image(path), dtype=np.int16), []
    for order, step in ((1, 1), (2, 2)):
        if order == 1: rh, rv = x[:, 1:] - x[:, :-1], x[1:] - x[:-1]
        else: rh, rv = x[:, :-2] - 2 * x[:, 1:-1] + x[:, 2:], x[:-2] - 2 * x[1:-1] + x[2:]
        qh, qv = (np.clip(np.round(r / step), -T_RES, T_RES).astype(np.int16) + T_RES for r in (rh, rv))
        for ch in range(3):   # along the residual's own direction, rows and columns together
            out.append(_triplets(qh[:, :-2, ch], qh[:, 1:-1, ch], qh[:, 2:, ch]) + _triplets(qv[:-2, :, ch], qv[1:-1, :, ch], qv[2:, :, ch]))
        out.append(_triplets(*(qh[..., c] for c in range(3))) + _triplets(*(qv[..., c] for c in range(3))))   # across colours, one pixel
    return np.concatenate([h / h.sum() for h in out]).astype(np.float32)

# centre (x, y) and side of each region as shares of the aligned (FFHQ) face square
REGIONS = dict(left_eye=(0.37, 0.47, 0.2), right_eye=(0.63, 0.47, 0.2), nose=(0.5, 0.6, 0.22), mouth=(0.5, 0.73, 0.26))

def region_crops(path, framing) -> list:
    "The `REGIONS` of the framed face (the whole image when no face is found), at the file's resolution."
    im = frame_image(path, framing, whole_if_no_face=True)[0]
    return [im.crop(tuple(round(v * im.width) for v in (cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2))) for cx, cy, s in REGIONS.values()]

def edited_regions(path) -> list:
    "Which of left eye, right eye, nose, mouth a ciplab composite swapped, from its name (e.g. `mid_12_1100.jpg`)."
    m = re.search(r'_([01]{4})\.', Path(path).name)
    if not m: raise ValueError(f'{path}: no region code in the name')
    return [int(c) for c in m.group(1)]

def loosely_framed(paths, folder:Path) -> list:
    "Copies of `paths` in `folder`, each pasted at its own size in the middle of a 2x canvas of its blurred, enlarged self (JPEG 90)."
    out = []
    for p in paths:
        im = load_image(p); w, h = im.size
        c = gaussian_blur(im.resize((2 * w, 2 * h), RESAMPLE), 8); c.paste(im, (w // 2, h // 2))
        c.save(folder/Path(p).name, quality=90); out.append(folder/Path(p).name)
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
    ap.add_argument('--region-size', type=int, default=160, help='image side for the region crops (rff)')
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
    keys = []
    def add(name, valid, key, **kw):
        keys.append(key)
        rows.append(dict(model=name, valid_auc=round(float(roc_auc_score(y['valid'], valid)), 4), **kw)); print(rows[-1], flush=True)
    score['probe'] = {s: log_odds(det.p_fake(list(parts[s].path))) for s in ('valid', 'test')}
    add('probe (the default detector)', score['probe']['valid'], 'probe')
    score['mirror'] = {s: (score['probe'][s] + det.scores(det.model[1](torch.from_numpy(feats(s, 'flip', True)).float()[:, :, None, None]).detach().numpy())
                           * det.calibration['a'] + det.calibration['b']) / 2 for s in ('valid', 'test')}
    add('probe, mean log-odds of the face and its mirror image (test-time augmentation)', score['mirror']['valid'], 'mirror')
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
        score['patch mean']['valid'], 'patch mean', seconds=secs)
    add(f'patch-level, image score = mean of its {a.top} most fake-looking cells', score['patch top']['valid'], 'patch top')
    # 2-D log-DCT
    t = time.time()
    D = {s: log_dct(list(parts[s].path), framing, a.dct_size) for s in parts}
    C, m, sc = fit_lr(D['train'], y['train'], D['valid'], y['valid'], Cs=(1e-4, 1e-3, 1e-2))
    score['dct'] = {s: m.decision_function(sc.transform(D[s])) for s in ('valid', 'test')}
    add(f'logistic regression on the 2-D log-DCT of the {a.dct_size}-px face (C={C:g})', score['dct']['valid'], 'dct', seconds=round(time.time() - t))
    # the whole image, 256 px
    t = time.time()
    whole, _ = fit_probe(df, size=256, framing='whole', forensic=0, progress=True)
    score['whole'] = {s: log_odds(whole.p_fake(list(parts[s].path))) for s in ('valid', 'test')}
    add('probe on the whole image at 256 px, with mirrored copies (C chosen on valid, as the default)', score['whole']['valid'], 'whole', seconds=round(time.time() - t))
    score['two views'] = {s: (score['probe'][s] + score['whole'][s]) / 2 for s in ('valid', 'test')}
    add('two views: mean log-odds of the face probe and the whole-image probe', score['two views']['valid'], 'two views')
    # colour co-occurrence of residuals
    t = time.time()
    R = {s: np.stack([residual_cooccurrence(p) for p in parts[s].path]) for s in parts}
    C, m, sc = fit_lr(R['train'], y['train'], R['valid'], y['valid'], Cs=(1e-3, 1e-2, 1e-1, 1.))
    score['cooc'] = {s: m.decision_function(sc.transform(R[s])) for s in ('valid', 'test')}
    add(f'colour co-occurrence of truncated residuals, {R["train"].shape[1]} bins, logistic regression (C={C:g})', score['cooc']['valid'], 'cooc',
        seconds=round(time.time() - t))
    framing_rows = []
    with tempfile.TemporaryDirectory() as tmp:
        loose = loosely_framed(list(parts['valid'].path), Path(tmp))
        for name, k, d in (('face probe (the default)', 'probe', det), ('whole-image probe', 'whole', whole)):
            for how, p in (('as stored', sigmoid(score[k]['valid'])), ('loosely framed', d.p_fake(loose))):   # as stored: the scores above
                mt = binary_metrics(y['valid'], p, d.threshold)
                framing_rows.append(dict(model=name, valid_split=how, auc=round(mt['roc_auc'], 4), accuracy_at_threshold=round(mt['accuracy'], 4),
                                         recall_fake=round(mt['recall'], 4)))
                print(framing_rows[-1], flush=True)
    names = ['probe', 'patch mean', 'patch top', 'dct', 'whole', 'cooc']
    if a.dataset == 'rff':   # region crops, each region trained on its own edit label
        t = time.time()
        F = {}
        for s_ in parts:
            crops = [region_crops(p, framing) for p in parts[s_].path]
            F[s_] = [pooled_features(body, [c[i] for c in crops], a.region_size) for i in range(len(REGIONS))]
        E = {s_: np.array([edited_regions(p) if l == 'fake' else [0] * len(REGIONS) for p, l in zip(parts[s_].path, parts[s_].label)]) for s_ in parts}
        reg = {s_: [] for s_ in ('valid', 'test')}
        for i in range(len(REGIONS)):
            C, m, sc = fit_lr(F['train'][i], E['train'][:, i], F['valid'][i], E['valid'][:, i], Cs=(1e-5, 1e-4, 1e-3))
            for s_ in reg: reg[s_].append(m.decision_function(sc.transform(F[s_][i])))
        score['regions'] = {s_: np.max(v, 0) for s_, v in reg.items()}
        add(f"region crops ({', '.join(REGIONS)}) at {a.region_size} px, a logistic regression per region on its own edit label, image score = the largest",
            score['regions']['valid'], 'regions', seconds=round(time.time() - t))
        names.append('regions')
    # stacking
    Z = {s: np.c_[tuple(score[n][s] for n in names)] for s in ('valid', 'test')}
    cv = cross_val_predict(LogisticRegression(), Z['valid'], y['valid'], cv=StratifiedKFold(5, shuffle=True, random_state=0), method='decision_function')
    score['stack'] = {'valid': cv, 'test': LogisticRegression().fit(Z['valid'], y['valid']).decision_function(Z['test'])}
    add(f"stacking: logistic regression on the {', '.join(names)} log-odds (5-fold CV on the valid split)", score['stack']['valid'], 'stack')
    print(pd.DataFrame(rows).to_string(index=False))
    result = dict(bench='indomain', **run_info(), dataset=a.dataset, rows=rows, loose_framing=framing_rows)
    if a.test:
        best = int(np.argmax([r['valid_auc'] for r in rows]))
        k = keys[best]
        thr = youden_threshold(y['valid'], sigmoid(score[k]['valid']))   # chosen on the valid split's (cross-validated, for stacking) scores
        mt = binary_metrics(y['test'], sigmoid(score[k]['test']), thr)
        result['test'] = dict(model=rows[best]['model'], **{m: mt[m] for m in ('accuracy', 'roc_auc', 'average_precision', 'tpr_at_1pct_fpr', 'tpr_at_5pct_fpr', 'threshold')})
        print('validation chose:', result['test'], flush=True)
    if a.json_out: Path(a.json_out).write_text(json.dumps(result, indent=2, default=float) + '\n')

if __name__ == '__main__': main()
