"""The default detector's headline figures: in-domain test split and cross-source sets, before and after calibration.

Fits the detector `./run.sh demo` trains by default (`fit_probe` with its defaults on `faces140k-sample`, threshold
and calibration from the valid split), scores the test split, then builds cross-source sets from what the shared
folder holds, none of them used to fit or choose anything:

- in-domain test: FFHQ photos against StyleGAN faces, the test split;
- re-shared test: the same images halved and saved again as JPEG 70 (`facefake.calibrate.reshare`);
- other real photos: `rff-part`'s real photos against the test split's StyleGAN faces, as many of each;
- Photoshop composites: `rff-part`, real photos against hand-made composites.

`cross_source_table` reports for each set the AUC, the accuracy at the stored threshold, the set's own best threshold,
and the accuracy after calibrating on 20 images per class of the set (measured on the rest).

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch \\
      .venv/bin/python bench/detector_bench.py --json-out bench/results/detector.json
"""
import argparse, json, tempfile, time
from pathlib import Path
import pandas as pd
from facefake.calibrate import cross_source_table, reshare
from facefake.metrics import binary_metrics
from facefake.probe import fit_probe
from facefake.splits import load_dataset
from benchinfo import run_info

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--n-cal', type=int, default=20, help='images per class that calibration sees on each set')
    ap.add_argument('--json-out')
    a = ap.parse_args()
    if a.json_out and Path(a.json_out).exists(): ap.error(f'{a.json_out} exists; give a new file')
    df, rff = load_dataset('faces140k-sample'), load_dataset('rff-part')
    t = time.time()
    det, _ = fit_probe(df, progress=True)
    fit_s = time.time() - t
    test = df[df.split == 'test']
    y = (test.label == 'fake').to_numpy().astype(int)
    m = binary_metrics(y, det.p_fake(list(test.path)), det.threshold)
    print(f"fitted in {fit_s:.0f} s; test accuracy {m['accuracy']:.3f}, AUC {m['roc_auc']:.3f}", flush=True)
    n_fake = int(y.sum())
    sets = {'in-domain test': test,
            're-shared test': reshare(test, Path(tempfile.mkdtemp())/'re-shared'),
            'other real photos': pd.concat([rff[rff.label == 'real'].sample(n_fake, random_state=0), test[test.label == 'fake']]),
            'Photoshop composites': rff}
    cross = cross_source_table(det, sets, n_cal=a.n_cal)
    print(cross.round(3).to_string(), flush=True)
    res = dict(bench='detector', **run_info(), detector=det.card['arch'], size=det.size, framing=det.framing,
               threshold=det.threshold, fit_seconds=round(fit_s), n_cal=a.n_cal,
               test={k: m[k] for k in ('accuracy', 'roc_auc', 'average_precision', 'tpr_at_1pct_fpr', 'precision', 'recall')},
               cross_source=[dict(set=k, **{c: (int(v) if c.startswith('n_') else round(float(v), 4)) for c, v in r.items()})
                             for k, r in cross.iterrows()])
    if a.json_out: Path(a.json_out).write_text(json.dumps(res, indent=2) + '\n')

if __name__ == '__main__': main()
