"""Human evaluation of REG (the paper's Table 2, H-Acc): create, serve, score a study.

    # a study of two models on 100 objects per split, with the human refs as control
    python tools/human_eval.py create work_dirs/human_eval/study.sqlite \
        --model step1=work_dirs/embedded/eval/step1 --model step2=work_dirs/embedded/eval/step2 \
        --data-root work_dirs/embedded/data --human-control --annotators alice bob
    # annotators open http://127.0.0.1:8000/study/study/annotate/alice (and .../bob)
    python tools/human_eval.py serve work_dirs/human_eval/study.sqlite
    python tools/human_eval.py table work_dirs/human_eval/study.sqlite   # Table 2's layout
    python tools/human_eval.py export work_dirs/human_eval/study.sqlite --json r.json --csv r.csv
    # synthetic benchmark: the oracle answers as annotator(s) (H-Acc = oracle unambiguity)
    python tools/human_eval.py oracle work_dirs/human_eval/study.sqlite \
        --annotators oracle1 oracle2 \
        --ann-file work_dirs/embedded/data/refcoco/instances.json
    python tools/human_eval.py oracle-check work_dirs/human_eval/study.sqlite \
        --ann-file work_dirs/embedded/data/refcoco/instances.json
"""
import argparse
import json
import os.path as osp
import sys

from mmrefmutual.apps.human_eval import (StudyDB, StudyError, add_annotator, create_study,
                                         find_dumps, format_table, score_study, to_csv)


def parse_model(spec: str, splits):
    """NAME=DIR (the dumps of tools/test.py under DIR) or NAME=SPLIT:FILE,SPLIT:FILE."""
    if '=' not in spec:
        raise StudyError(f'--model NAME=DIR or NAME=SPLIT:FILE,...: {spec!r}')
    name, where = spec.split('=', 1)
    if osp.isdir(where):
        return name, find_dumps(where, splits)
    pairs = dict(p.split(':', 1) for p in where.split(',') if ':' in p)
    if not pairs:
        raise StudyError(f'{where}: neither a folder nor SPLIT:FILE pairs')
    return name, pairs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('create', help='a new study file from REG dumps and the dataset')
    p.add_argument('study')
    p.add_argument('--model', action='append', required=True,
                   help='NAME=DIR of *_{split}.reg_expressions.json, or NAME=SPLIT:FILE,...')
    p.add_argument('--data-root', help='the synthetic/RefCOCO layout root: sets --ann-file '
                   'DATA/refcoco/instances.json, --image-dir DATA/coco/train2014 and '
                   '--human-refs DATA/refcoco/refs(unc).p')
    p.add_argument('--ann-file')
    p.add_argument('--image-dir')
    p.add_argument('--human-refs', help='refs file; with --human-control, one human sentence '
                   'per object is judged too')
    p.add_argument('--human-control', action='store_true')
    p.add_argument('--splits', nargs='+', default=['val', 'testA', 'testB'])
    p.add_argument('--n', type=int, default=100, help='objects per split (default: 100)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--annotators', nargs='*', default=[])
    p.add_argument('--annotators-per-item', type=int, default=2)
    p = sub.add_parser('add-annotator', help='register annotators (each gets their own order)')
    p.add_argument('study')
    p.add_argument('names', nargs='+')
    p = sub.add_parser('oracle', help='synthetic benchmark: the oracle answers as annotators')
    p.add_argument('study')
    p.add_argument('--annotators', nargs='+', default=['oracle1', 'oracle2'])
    p.add_argument('--ann-file', required=True)
    p = sub.add_parser('oracle-check', help='synthetic benchmark: H-Acc beside the oracle '
                       'unambiguity of the same items (from the dumps; exit 1 if they differ)')
    p.add_argument('study')
    p.add_argument('--ann-file', required=True)
    p = sub.add_parser('serve', help='serve the annotation and results pages')
    p.add_argument('studies', nargs='+')
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=8000)
    p = sub.add_parser('table', help="print Table 2's layout (H-Acc per model and split)")
    p.add_argument('study')
    p = sub.add_parser('export', help='write the scores as JSON and/or CSV')
    p.add_argument('study')
    p.add_argument('--json')
    p.add_argument('--csv')
    args = parser.parse_args(argv)
    try:
        return run(args)
    except StudyError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2


def run(args) -> int:
    if args.command == 'create':
        if args.data_root:
            args.ann_file = args.ann_file or osp.join(args.data_root, 'refcoco', 'instances.json')
            args.image_dir = args.image_dir or osp.join(args.data_root, 'coco', 'train2014')
            args.human_refs = args.human_refs or osp.join(args.data_root, 'refcoco',
                                                          'refs(unc).p')
        if not args.ann_file or not args.image_dir:
            raise StudyError('give --data-root, or --ann-file and --image-dir')
        if args.human_control and not args.human_refs:
            raise StudyError('--human-control needs --human-refs (or --data-root)')
        models = dict(parse_model(m, args.splits) for m in args.model)
        settings = create_study(
            args.study, models, args.ann_file, args.image_dir, splits=args.splits,
            n_per_split=args.n, seed=args.seed,
            human_refs=args.human_refs if args.human_control else None,
            annotators=args.annotators, annotators_per_item=args.annotators_per_item)
        print(f'study {settings["study_id"]!r} written to {args.study}: {settings["items"]} '
              f'items, objects per split {settings["objects"]}')
        for name in args.annotators:
            print(f'  {name}: http://127.0.0.1:8000/study/{settings["study_id"]}/annotate/{name}')
    elif args.command == 'add-annotator':
        with StudyDB(args.study) as db:
            for name in args.names:
                add_annotator(db, name)
                print(f'{name}: /study/{db.study_id}/annotate/{name}')
    elif args.command == 'oracle':
        from mmrefmutual.apps.human_eval.oracle import OracleAnnotator
        with StudyDB(args.study) as db:
            for name in args.annotators:
                if name not in db.annotators():
                    add_annotator(db, name)
                n = OracleAnnotator(args.ann_file, seed=name).annotate(db, name)
                print(f'{name}: {n} answers recorded')
    elif args.command == 'oracle-check':
        from mmrefmutual.apps.human_eval.oracle import oracle_unambiguity
        with StudyDB(args.study) as db:
            scores = score_study(db)
            reference = oracle_unambiguity(db, args.ann_file)
        splits = scores['settings']['splits']
        print('| H-Acc / oracle unambiguity (%) | ' + ' | '.join(splits) + ' |')
        print('|---|' + '---|' * len(splits))
        equal = True
        for model in scores['results'][splits[0]]:
            cells = []
            for split in splits:
                e = scores['results'][split][model]
                k, n = reference[split][model]
                same = (e['right'], e['n']) == (k, n)
                equal &= same
                cells.append(f"{e['h_acc']} / {round(100 * k / n, 2)} "
                             f"({'equal' if same else 'DIFFERENT'}, n={n})")
            print(f'| {model} | ' + ' | '.join(cells) + ' |')
        return 0 if equal else 1
    elif args.command == 'serve':
        from mmrefmutual.apps.server import build_app, serve
        studies = {}
        for path in args.studies:
            with StudyDB(path) as db:
                studies[db.study_id] = path
                print(f'study {db.study_id}: http://{args.host}:{args.port}/study/{db.study_id}'
                      f'/results; annotators: ' + ', '.join(
                          f'/study/{db.study_id}/annotate/{a}' for a in db.annotators()))
        serve(build_app(studies=studies), host=args.host, port=args.port)
    elif args.command == 'table':
        with StudyDB(args.study) as db:
            print(format_table(score_study(db)))
    elif args.command == 'export':
        with StudyDB(args.study) as db:
            scores = score_study(db)
        if args.json:
            with open(args.json, 'w', encoding='utf-8') as f:
                json.dump(scores, f, indent=1)
        if args.csv:
            with open(args.csv, 'w', encoding='utf-8', newline='') as f:
                f.write(to_csv(scores))
        if not (args.json or args.csv):
            print(json.dumps(scores, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
