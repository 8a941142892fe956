"""Choose the linear probe's image side and training copies for the default detector, on the VALIDATION split of
faces140k-sample (the test split is not used), with the cost of each setting and how far its score moves on a
cross-source set.

For each image side it computes (and caches, see `facefake.probe.FeatureCache`) the features of the train split as
stored, mirrored and as two degraded copies, of the valid split, and of a cross-source set: the real photos of
rff-part (another camera and source) against the valid split's StyleGAN fakes. Then it fits the probe on growing
sets of copies and prints one row each: validation AUC and accuracy, the seconds of the feature passes that setting
needs (train copies + valid + test, measured), and on the cross-source set the AUC and the accuracy at the
threshold chosen on validation.

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch FACEFAKE_CACHE=/tmp/probe-bench-cache \\
      .venv/bin/python bench/probe_settings_bench.py --json-out bench/results/probe_settings.json
"""
import argparse, datetime as dt, json, os, platform, sys, time
from pathlib import Path
import pandas as pd, torch
from sklearn.metrics import roc_auc_score
from facefake.core import CLASSES, conv_layout
from facefake.detector import build_model
from facefake.metrics import youden_threshold
from facefake.probe import PROBE_HEAD, PROBE_AUGMENTATION, cached_features, fit_logistic, probe_cache_key, probe_training_features
from facefake.splits import load_dataset

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--sizes', type=int, nargs='+', default=[256, 320, 384])
    ap.add_argument('--arch', default='mobilenet_v2_taps8')
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--json-out')
    a = ap.parse_args()
    if a.json_out and Path(a.json_out).exists(): ap.error(f'{a.json_out} exists; give a new file')
    torch.manual_seed(0)
    df = load_dataset('faces140k-sample', seed=a.seed)
    rff = load_dataset('rff-part', seed=a.seed)
    valid = df[df.split == 'valid']
    cross = pd.concat([rff[rff.label == 'real'], valid[valid.label == 'fake']])
    n_test = int((df.split == 'test').sum())
    rows = []
    for size in a.sizes:
        model = build_model(a.arch, len(CLASSES), pretrained=True, head=PROBE_HEAD)
        body = model[0].to(memory_format=conv_layout('cpu'))
        key = probe_cache_key(a.arch, size, 'face')
        t = time.time()
        X, y = probe_training_features(df, body, size, flips=True, forensic=2, seed=a.seed, framing='face', cache_key=key,
                                       progress=False)
        train_s = time.time() - t
        t = time.time()
        Xv = cached_features(body, list(valid.path), size, key, framing='face')
        valid_s = time.time() - t
        yv = (valid.label == 'fake').to_numpy().astype(int)
        Xc = cached_features(body, list(cross.path), size, key, framing='face')
        yc = (cross.label == 'fake').to_numpy().astype(int)
        n = int((df.split == 'train').sum())
        per_image = valid_s / len(valid)   # seconds per image of one pass (cold when the cache was empty)
        for copies, label in ((1, 'as stored'), (2, '+ mirrored'), (3, '+ mirrored + 1 degraded'), (4, '+ mirrored + 2 degraded')):
            scaler, clf, table = fit_logistic(X[:copies * n], y[:copies * n], Xv, yv)
            pv = clf.predict_proba(scaler.transform(Xv))[:, 1]
            pc = clf.predict_proba(scaler.transform(Xc))[:, 1]
            thr = youden_threshold(yv, pv)
            rows.append(dict(size=size, copies=label, C=float(clf.C), valid_auc=round(roc_auc_score(yv, pv), 4),
                             valid_accuracy=round(float(((pv > thr) == yv).mean()), 4), threshold=round(thr, 3),
                             cross_auc=round(roc_auc_score(yc, pc), 4),
                             cross_accuracy_at_valid_threshold=round(float(((pc > thr) == yc).mean()), 4),
                             cross_threshold=round(youden_threshold(yc, pc), 3),
                             feature_seconds=round(per_image * (copies * n + len(valid) + n_test)),
                             train_pass_seconds_all_copies=round(train_s), valid_pass_seconds=round(valid_s, 1)))
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print(table.drop(columns=['train_pass_seconds_all_copies', 'valid_pass_seconds']).to_string(index=False))
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(dict(
            bench='probe_settings', date=dt.datetime.now().isoformat(timespec='seconds'), machine=platform.machine(),
            cpus=os.cpu_count(), torch_threads=torch.get_num_threads(), command='python ' + ' '.join(sys.argv),
            arch=a.arch, augmentation=PROBE_AUGMENTATION.to_dict(),
            cross_set='rff-part real photos (541) vs faces140k-sample valid fakes', rows=rows), indent=2) + '\n')

if __name__ == '__main__': main()
