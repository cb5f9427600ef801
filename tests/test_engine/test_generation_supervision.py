"""Generation supervision (step 3): settings, pseudo refs, their filters, sharding, leakage
guard, weights, the data switch, and the hook through tools/train.py and tools/dist_train.sh."""
import inspect
import json
import os
import os.path as osp
import re
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from torch.utils.data import DataLoader

from mmrefmutual.datasets import RefCocoDataset, UnannotatedInstanceDataset, load_refs
from mmrefmutual.datasets.leakage import LeakageError
from mmrefmutual.engine.generation_supervision import (
    PROVENANCE_KEY, GenerationSettings, PseudoRefWriter, area_filter, grounded_to_own_instance,
    rank_by_margin, refer_back_margins,
    random_filter, select_instances, switch_train_dataloader)
from mmrefmutual.registry import MODELS
from mmrefmutual.utils import register_all_modules, to_plain
from mmrefmutual.utils.tool_args import hook_index, step3_hook_index

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STEP3 = osp.join(REPO, 'configs', 'mutual', 'synthetic_step3_gensup_tiny.py')


def settings(root, **kwargs):
    """The tiny step-3 config's generation settings, pointed at the test benchmark."""
    cfg = Config.fromfile(STEP3)
    gen = cfg.custom_hooks[step3_hook_index(cfg)].generation_supervision.to_dict()
    gen['unannotated']['data_root'] = root + '/'
    gen['protected_refs_files'] = [osp.join(root, 'refcoco', 'refs(unc).p'),
                                   osp.join(root, 'refcoco+', 'refs(unc).p')]
    gen.update(batch_size=4, chunk_size=4, min_area=400)
    gen.update(kwargs)
    return gen


@pytest.fixture(scope='module')
def step2_ckpt(synthetic_root, tmp_path_factory):
    """A (randomly initialised) tiny model saved as the 'step-2 checkpoint'."""
    register_all_modules()
    cfg = Config.fromfile(STEP3)
    cfg.model.generation_head.vocab = osp.join(synthetic_root, 'refcoco', 'vocab.txt')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    path = str(tmp_path_factory.mktemp('ckpt') / 'step2.pth')
    torch.save(to_plain({'state_dict': model.state_dict()}), path)
    return path, cfg


def generate(gen_settings, ckpt, out):
    path, cfg = ckpt
    writer = PseudoRefWriter(GenerationSettings(**dict(gen_settings, checkpoint=path)))
    return writer.write(cfg.model, out, cfg.test_dataloader.dataset.pipeline,
                        torch.device('cpu'))


def pool_instances(root):
    """(ann_id, area) of the non-crowd instances of the images without refs."""
    with open(osp.join(root, 'coco', 'annotations', 'instances_train2014.json')) as f:
        coco = json.load(f)
    referred = {r['image_id'] for r in load_refs(osp.join(root, 'refcoco', 'refs(unc).p'))}
    return {a['id']: a['area'] for a in coco['annotations']
            if a['image_id'] not in referred and not a.get('iscrowd')}


def test_instance_filters_are_exact(synthetic_root):
    register_all_modules()
    pool = pool_instances(synthetic_root)
    gen = settings(synthetic_root)
    dataset = UnannotatedInstanceDataset(**{k: v for k, v in gen['unannotated'].items()
                                            if k != 'type'}, min_area=0)

    def kept(instance_filter, min_area=0, seed=0):
        selected = select_instances(dataset, instance_filter, min_area, seed)
        return sorted(a for ids in selected.values() for a in ids)

    assert kept(instance_filter='none') == sorted(pool)
    for min_area in (400, 32 * 32):
        assert kept(instance_filter='area', min_area=min_area) == sorted(
            a for a, area in pool.items() if area >= min_area)
    big = kept(instance_filter='area', min_area=400)
    random = kept(instance_filter='random', min_area=400, seed=1)
    assert len(random) == len(big) and random != big and set(random) <= set(pool)
    assert random == kept(instance_filter='random', min_area=400, seed=1)  # seeded


def test_filters_are_small_functions():
    candidates = [(0, 10, 50.0), (0, 11, 500.0), (1, 12, 400), (2, 13, 10.0), (2, 14, 900.0)]
    assert area_filter(candidates, 400) == [(0, 11, 500.0), (1, 12, 400), (2, 14, 900.0)]
    drawn = random_filter(candidates, 400, seed=3)
    assert len(drawn) == 3 and set(drawn) <= set(candidates)
    assert drawn == sorted(drawn, key=candidates.index)  # in the pool's order
    assert drawn == random_filter(candidates, 400, seed=3)
    assert {tuple(random_filter(candidates, 400, seed)) for seed in range(20)} != {tuple(drawn)}
    # refer-back: 2 instances x 3 expressions over 4 proposals
    scores = torch.tensor([[[0., 1, 0, 0], [1, 0, 0, 0], [0, 2, 1, 0]],
                           [[0., 0, 0, 1], [0, 0, 5, 1], [0, 0, 0, 3]]])
    assert grounded_to_own_instance(scores, torch.tensor([1, 3])) == [[True, False, True],
                                                                     [True, False, True]]
    # refer-back as ranking: own score minus the best other one
    assert refer_back_margins(scores, torch.tensor([1, 3])).tolist() == [[1., -1., 1.],
                                                                        [1., -4., 3.]]
    assert rank_by_margin(scores, torch.tensor([1, 3]), 2) == [[0, 2], [2, 0]]  # tie: beam 0
    assert rank_by_margin(scores, torch.tensor([0, 2]), 3) == [[1, 0, 2], [1, 0, 2]]
    with pytest.raises(ValueError, match='keep'):
        rank_by_margin(scores, torch.tensor([1, 3]), 4)


@pytest.mark.parametrize('bad, match', [
    (dict(instance_filter='big'), 'instance_filter'),
    (dict(protected_refs_files=[]), 'refs files'),
    (dict(human_repeat=0), 'human_repeat'),
    (dict(num_expressions=0), 'num_expressions'),
    (dict(chunk_size=2.5), 'chunk_size'),
    (dict(batch_size=True), 'batch_size'),
    (dict(num_workers=-1), 'num_workers'),
    (dict(weight=-0.1), 'weight'),
    (dict(min_area='big'), 'min_area'),
    (dict(refer_back='yes'), 'refer_back'),
    (dict(candidates=2), 'candidates'),
    (dict(candidates=-1), 'candidates'),
])
def test_settings_are_one_typed_object_that_refuses_bad_values(bad, match):
    good = dict(checkpoint='step2.pth', unannotated=dict(type='UnannotatedInstanceDataset',
                                                         min_area=32 * 32),
                protected_refs_files=('refs(unc).p', ))
    settings = GenerationSettings(**good)
    assert settings.unannotated['min_area'] == 0  # the instance filter chooses
    assert settings.protected_refs_files == ['refs(unc).p']
    assert GenerationSettings(**good, min_area=400).file_settings()['min_area'] == 400
    assert isinstance(GenerationSettings(**good, min_area=400).min_area, int)  # as written
    with pytest.raises(ValueError, match=match):
        GenerationSettings(**dict(good, **bad))
    with pytest.raises(TypeError):
        GenerationSettings(**good, min_areas=400)  # a misspelt setting is no silent default


def test_the_hook_is_found_by_type_not_position():
    hooks = [dict(type='EMAHook'), dict(type='mmrefmutual.MutualSupervisionHook',
                                        generation_supervision=dict(seed=0))]
    assert hook_index(hooks, 'MutualSupervisionHook') == 1
    assert hook_index(hooks, 'EMAHook') == 0
    with pytest.raises(ValueError, match='found 0'):
        hook_index(hooks, 'PipelineSwitchHook')
    with pytest.raises(ValueError, match='found 2'):
        hook_index(hooks + hooks[1:], 'MutualSupervisionHook')
    cfg = Config.fromfile(STEP3)
    cfg.custom_hooks = [dict(type='EMAHook')] + cfg.custom_hooks
    assert step3_hook_index(cfg) == 1
    cfg.custom_hooks[1] = dict(type='MutualSupervisionHook', disambiguation=dict(reward={}))
    with pytest.raises(ValueError, match='no generation_supervision'):
        step3_hook_index(cfg)


def test_data_switch_replaces_what_the_iteration_loop_reads():
    """switch_train_dataloader relies on mmengine's private _InfiniteDataloaderIterator:
    this fails if mmengine changes how IterBasedTrainLoop builds and reads it."""
    from mmengine.runner.loops import IterBasedTrainLoop, _InfiniteDataloaderIterator
    init, run = inspect.getsource(IterBasedTrainLoop.__init__), inspect.getsource(
        IterBasedTrainLoop.run)
    assert 'self.dataloader_iterator = _InfiniteDataloaderIterator(self.dataloader)' in init
    # hooks run before the first batch is drawn: the swap is in time
    assert run.index("call_hook('before_train')") < run.index('next(self.dataloader_iterator)')
    assert list(inspect.signature(_InfiniteDataloaderIterator).parameters) == ['dataloader']

    class Loop:  # what the switch touches of IterBasedTrainLoop
        dataloader = DataLoader([0, 1])
        dataloader_iterator = _InfiniteDataloaderIterator(dataloader)

    loop, loader = Loop(), DataLoader([10, 11, 12], batch_size=2)
    switch_train_dataloader(loop, loader)
    assert loop.dataloader is loader
    got = [next(loop.dataloader_iterator).tolist() for _ in range(3)]
    assert got == [[10, 11], [12], [10, 11]]  # and it starts again at the end

    class EpochLoop:  # EpochBasedTrainLoop reads its dataloader each epoch
        dataloader = DataLoader([0, 1])

    epoch_loop = EpochLoop()
    switch_train_dataloader(epoch_loop, loader)
    assert epoch_loop.dataloader is loader and not hasattr(epoch_loop, 'dataloader_iterator')


def test_pseudo_refs_file_and_its_weight_in_the_res_loss(synthetic_root, step2_ckpt, tmp_path):
    out = str(tmp_path / 'pseudo.json')
    stats = generate(settings(synthetic_root), step2_ckpt, out)
    with open(out) as f:
        content = json.load(f)
    refs = content['refs']
    pool = pool_instances(synthetic_root)
    assert {r['ann_id'] for r in refs} == {a for a, area in pool.items() if area >= 400}
    assert stats['instances'] == len(refs) and stats['expressions'] == 3 * len(refs)
    for ref in refs:
        assert (ref['split'], ref['weight'], ref['generated']) == ('train', 0.1, True)
        assert len(ref['sentences']) == 3  # the best 3 beams, all different
        assert len({s['sent'] for s in ref['sentences']}) == 3
        assert all(s['sent'] for s in ref['sentences'])
    assert content[PROVENANCE_KEY]['checkpoint'] == osp.abspath(step2_ckpt[0])

    # the RefCOCO dataset reads it; the packed refs carry weight 0.1 and generated=True
    path, cfg = step2_ckpt
    dataset = RefCocoDataset(ann_file=osp.join(synthetic_root, 'coco', 'annotations',
                                               'instances_train2014.json'),
                             split_file=out, split='train', data_root='',
                             data_prefix=dict(img_path=osp.join(synthetic_root, 'coco',
                                                                'train2014')),
                             pipeline=cfg.train_dataloader.dataset.pipeline)
    assert len(dataset) == len(refs)
    data = dataset[0]
    assert data['data_samples'].gt_refs.weights.tolist() == [pytest.approx(0.1)]
    assert data['data_samples'].gt_refs.generated.tolist() == [True]
    # loss_res of this pseudo ref = 0.1 * -log softmax(S)_k, computed by hand
    model = MODELS.build(cfg.model).eval()
    batch = model.data_preprocessor(dict(inputs=[data['inputs']],
                                         data_samples=[data['data_samples']]), False)
    with torch.no_grad():
        proposals, cls_list, mask_list = model.extract_proposals(batch['inputs'],
                                                                 batch['data_samples'])
        _, gt_to_prop = model.panoptic_head.loss_and_assign(cls_list, mask_list,
                                                            batch['data_samples'])
        loss = model.loss(batch['inputs'], batch['data_samples'])['loss_res']
        sample = batch['data_samples'][0]
        target = gt_to_prop[0][sample.gt_refs.inst_inds[0]]
        scores = model.select(proposals, [sample.gt_sents.texts[0]])[0]
    expected = 0.1 * -(scores[target] - torch.logsumexp(scores, 0))
    torch.testing.assert_close(loss, expected)


def test_interrupted_then_resumed_gives_the_same_bytes(synthetic_root, step2_ckpt, tmp_path,
                                                       monkeypatch):
    gen = settings(synthetic_root)
    whole = str(tmp_path / 'whole.json')
    whole_stats = generate(gen, step2_ckpt, whole)
    resumed = str(tmp_path / 'resumed.json')
    written = []
    original = PseudoRefWriter.write_chunk

    def crash_after_two(refs, path):
        if len(written) == 2:
            raise KeyboardInterrupt
        written.append(path)
        original(refs, path)

    monkeypatch.setattr(PseudoRefWriter, 'write_chunk', staticmethod(crash_after_two))
    with pytest.raises(KeyboardInterrupt):
        generate(gen, step2_ckpt, resumed)
    assert not osp.exists(resumed) and len(os.listdir(resumed + '.parts')) == 3  # + provenance
    monkeypatch.setattr(PseudoRefWriter, 'write_chunk', staticmethod(original))
    stats = generate(gen, step2_ckpt, resumed)
    with open(whole, 'rb') as a, open(resumed, 'rb') as b:
        assert a.read() == b.read()
    assert 0 < stats['images'] < whole_stats['images']  # the two finished chunks were reused
    assert not osp.exists(resumed + '.parts')


def test_refer_back_keeps_the_expressions_grounded_to_their_instance(
        synthetic_root, step2_ckpt, tmp_path, monkeypatch):
    """With planted matching (instance i of an image -> proposal i) and a planted
    selection head (an expression grounds to proposal len(text) mod 20), refer-back keeps
    exactly the beams that ground to their own instance."""
    from mmrefmutual.models.detectors import RefMutual
    monkeypatch.setattr(RefMutual, 'match', lambda self, cls, masks, samples, by='mask': [
        torch.arange(len(s.gt_instances)) for s in samples])
    monkeypatch.setattr(RefMutual, 'select', lambda self, proposals, texts: torch.nn.functional.
                        one_hot(torch.tensor([len(t) % 20 for t in texts]), 20).float())
    gen = settings(synthetic_root)
    everything, kept = str(tmp_path / 'all.json'), str(tmp_path / 'kept.json')
    generate(gen, step2_ckpt, everything)
    stats = generate(dict(gen, refer_back=True), step2_ckpt, kept)
    with open(osp.join(synthetic_root, 'coco', 'annotations', 'instances_train2014.json')) as f:
        anns = json.load(f)['annotations']
    position = {}
    for ann in anns:  # the order of an image's instances is the file's
        position[ann['id']] = sum(a['image_id'] == ann['image_id'] for a in anns
                                  if a['id'] < ann['id'])
    with open(everything) as f, open(kept) as g:
        beams = {r['ann_id']: [s['sent'] for s in r['sentences']] for r in json.load(f)['refs']}
        got = {r['ann_id']: [s['sent'] for s in r['sentences']] for r in json.load(g)['refs']}
    expected = {a: [t for t in texts if len(t) % 20 == position[a]] for a, texts in beams.items()}
    assert got == {a: texts for a, texts in expected.items() if texts}
    assert stats['rejected'] == sum(3 - len(t) for t in expected.values()) > 0
    assert stats['expressions'] == sum(len(t) for t in got.values()) > 0


def test_refer_back_as_ranking_keeps_the_best_grounded_candidates(
        synthetic_root, step2_ckpt, tmp_path, monkeypatch):
    """6 candidates, 3 kept: with the planted head of the test above (margin +1 when an
    expression grounds to its own instance, -1 otherwise), the grounded beams first in beam
    order, then the others; with refer_back too, only the grounded ones."""
    from mmrefmutual.models.detectors import RefMutual
    monkeypatch.setattr(RefMutual, 'match', lambda self, cls, masks, samples, by='mask': [
        torch.arange(len(s.gt_instances)) for s in samples])
    monkeypatch.setattr(RefMutual, 'select', lambda self, proposals, texts: torch.nn.functional.
                        one_hot(torch.tensor([len(t) % 20 for t in texts]), 20).float())
    gen = settings(synthetic_root)
    six, ranked, both = (str(tmp_path / f'{n}.json') for n in ('six', 'ranked', 'both'))
    generate(dict(gen, num_expressions=6), step2_ckpt, six)
    generate(dict(gen, candidates=6), step2_ckpt, ranked)
    generate(dict(gen, candidates=6, refer_back=True), step2_ckpt, both)
    with open(osp.join(synthetic_root, 'coco', 'annotations', 'instances_train2014.json')) as f:
        anns = json.load(f)['annotations']
    position = {a['id']: sum(b['image_id'] == a['image_id'] for b in anns if b['id'] < a['id'])
                for a in anns}

    def sentences(path):
        with open(path) as f:
            data = json.load(f)
        return {r['ann_id']: [s['sent'] for s in r['sentences']] for r in data['refs']}, data

    beams, _ = sentences(six)
    assert all(len(b) == 6 for b in beams.values())
    expected = {a: sorted(b, key=lambda t, a=a: len(t) % 20 != position[a])[:3]
                for a, b in beams.items()}
    got, data = sentences(ranked)
    assert got == expected
    assert any(got[a] != b[:3] for a, b in beams.items())  # ranking changed something
    assert data[PROVENANCE_KEY]['settings']['candidates'] == 6
    grounded = {a: [t for t in e if len(t) % 20 == position[a]] for a, e in expected.items()}
    assert sentences(both)[0] == {a: t for a, t in grounded.items() if t}


def test_evaluation_images_are_never_pseudo_labelled(synthetic_root, step2_ckpt, tmp_path):
    """A pool whose file wrongly holds every image (val ones too) stops at generation."""
    src = osp.join(synthetic_root, 'coco', 'annotations', 'instances_train2014.json')
    with open(src) as f:
        coco = json.load(f)
    coco['mmrefmutual_unannotated'] = dict(note='pretends to be the converter output')
    leaky = str(tmp_path / 'leaky.json')
    with open(leaky, 'w') as f:
        json.dump(coco, f)
    gen = settings(synthetic_root, chunk_size=100, batch_size=64)
    gen['unannotated'] = dict(gen['unannotated'], ann_file=leaky, refs_files=[])
    with pytest.raises(LeakageError, match='evaluation split'):
        generate(gen, step2_ckpt, str(tmp_path / 'leaky_pseudo.json'))
    assert not osp.exists(str(tmp_path / 'leaky_pseudo.json'))


def _cli(options):
    return [f'{k}={v}' for k, v in options.items()]


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _step3_options(root, work, ckpt, iters=2):
    sys.path.insert(0, osp.join(REPO, 'tests'))
    from conftest import tiny_cfg_options
    opts = tiny_cfg_options(root, work, iters=iters, batch_size=2)
    del opts['test_evaluator.2.ann_file']
    hook = _hook_key()
    opts.update({
        'load_from': ckpt,
        f'{hook}.checkpoint': ckpt,
        f'{hook}.unannotated.data_root': root + '/',
        f'{hook}.protected_refs_files':
            f'[{root}/refcoco/refs(unc).p,{root}/refcoco+/refs(unc).p]',
        f'{hook}.min_area': 400,
        f'{hook}.chunk_size': 4,
    })
    return opts


def _hook_key():
    return f'custom_hooks.{step3_hook_index(Config.fromfile(STEP3))}.generation_supervision'


def test_step3_through_train_and_dist_train(synthetic_root, step2_ckpt, tmp_path):
    """tools/train.py generates with a progress bar, then trains on human + pseudo refs;
    running again reuses the file; --resume neither regenerates nor loses it;
    tools/dist_train.sh with 2 processes writes the same file."""
    env = dict(os.environ, PYTHONPATH=REPO, HF_HUB_OFFLINE='1', OMP_NUM_THREADS='1')
    work = str(tmp_path / 'step3')
    opts = _step3_options(synthetic_root, work, step2_ckpt[0])
    train = [sys.executable, osp.join(REPO, 'tools', 'train.py'), STEP3]
    run = subprocess.run(train + ['--cfg-options'] + _cli(opts), env=env, capture_output=True,
                         text=True, timeout=600)
    log = first_log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    pseudo = osp.join(work, 'pseudo_refs.json')
    assert 'task/s' in log and 'ETA' in log  # the progress bar
    assert 'pseudo samples (pseudo weight 0.1)' in log and 'loss_res:' in log
    with open(pseudo, 'rb') as f:
        first = f.read()
    num_refs = len(json.loads(first)['refs'])
    assert f'human and {num_refs} pseudo samples' in log

    # a re-run reuses the file; repeating the human refs changes the training data only
    again = dict(opts, **{f'{_hook_key()}.human_repeat': 3})
    run = subprocess.run(train + ['--cfg-options'] + _cli(again), env=env, capture_output=True,
                         text=True, timeout=600)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    assert 'reusing' in log and 'task/s' not in log
    human = int(re.search(r'training on (\d+) human x 3 and (\d+) pseudo', log).group(1))
    assert re.search(rf'training on {human} human and {num_refs} pseudo', first_log)

    resume = dict(opts, **{'train_cfg.max_iters': 3, 'param_scheduler.end': 3})
    run = subprocess.run(train + ['--resume', osp.join(work, 'iter_2.pth'), '--cfg-options']
                         + _cli(resume), env=env, capture_output=True, text=True, timeout=600)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    assert 'resumed at iteration 2' in log and 'task/s' not in log
    assert f'human and {num_refs} pseudo samples' in log and 'Iter(train) [3/3]' in log
    with open(pseudo, 'rb') as f:
        assert f.read() == first

    # the offline tool writes the same file
    offline = str(tmp_path / 'offline.json')
    run = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'generate_pseudo_refs.py'),
                          STEP3, step2_ckpt[0], '--out', offline, '--cfg-options'] + _cli(opts),
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    with open(offline, 'rb') as f:
        assert f.read() == first

    dist_work = str(tmp_path / 'dist')
    dist_opts = _step3_options(synthetic_root, dist_work, step2_ckpt[0], iters=1)
    dist_opts['train_dataloader.batch_size'] = 1
    run = subprocess.run(['bash', osp.join(REPO, 'tools', 'dist_train.sh'), STEP3, '2',
                          '--cfg-options'] + _cli(dist_opts),
                         env=dict(env, PYTHON=sys.executable, PORT=str(_free_port())),
                         capture_output=True, text=True, timeout=600)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-4000:]
    with open(osp.join(dist_work, 'pseudo_refs.json'), 'rb') as f:
        assert f.read() == first
