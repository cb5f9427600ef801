import copy
import os.path as osp
import sys

import pytest
import torch
from mmdet.models.dense_heads import Mask2FormerHead
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mmrefmutual.models.language.vocab import build_vocab
from mmrefmutual.models.task_modules import UnambiguityCiderReward
from mmrefmutual.registry import MODELS
from mmrefmutual.utils import register_all_modules, to_plain

sys.path.insert(0, osp.dirname(__file__))
from ref_batches import TEXTS, make_batch, planted_outputs  # noqa: E402

TINY_CONFIG = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'mutual',
                       'synthetic_step1_joint_tiny.py')

STEP2 = dict(frozen_modules=['backbone', 'panoptic_head', 'text_encoder', 'selection_head'],
             train_cfg=dict(proposal_loss=False, ref_assigner='matching', res_loss=False,
                            reg_loss='policy_gradient',
                            policy_gradient=dict(num_samples=3, baseline='mean')))
CORPUS = {10: TEXTS[:1], 11: TEXTS[1:], 12: ['a blue circle']}


@pytest.fixture(scope='module')
def model_cfg(tmp_path_factory):
    register_all_modules()
    vocab = tmp_path_factory.mktemp('vocab') / 'vocab.txt'
    vocab.write_text('\n'.join(build_vocab(TEXTS)))
    cfg = Config.fromfile(TINY_CONFIG).model
    cfg.generation_head.vocab = str(vocab)
    cfg.panoptic_head.num_queries = 8
    cfg.train_cfg.num_points = 256
    return cfg


def build(cfg, seed=0, **changes):
    torch.manual_seed(seed)
    cfg = Config(dict(model=copy.deepcopy(cfg)))
    cfg.merge_from_dict(copy.deepcopy(changes) and {'model': copy.deepcopy(changes)})
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def plant(model, monkeypatch, samples, proposals=None):
    cls_list, mask_list, owners = planted_outputs(samples)
    if proposals is None:
        torch.manual_seed(3)
        proposals = torch.randn(2, 8, 64)
    monkeypatch.setattr(model, 'extract_proposals',
                        lambda inputs, samples: (proposals, cls_list, mask_list))
    return cls_list, mask_list, owners


def spy(monkeypatch, obj, name):
    calls, original = [], getattr(obj, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(obj, name, wrapper)
    return calls


def test_loss_keys_and_overfit(model_cfg):
    model = build(model_cfg).train()
    inputs, samples = make_batch()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    history = []
    for _ in range(12):
        losses = model.loss(inputs, samples)
        assert {'loss_cls', 'loss_mask', 'loss_dice', 'loss_res', 'loss_reg'} <= set(losses)
        total = sum(losses.values())
        assert torch.isfinite(total)
        history.append({k: v.item() for k, v in losses.items()})
        opt.zero_grad()
        total.backward()
        opt.step()
    for key in ('loss_res', 'loss_reg', 'loss_dice'):
        assert history[-1][key] < history[0][key], key
    # the frozen text encoder gets no gradient
    assert all(p.grad is None for p in model.text_encoder.parameters())


def test_referring_losses_supervise_the_final_layer_assignment(model_cfg, monkeypatch):
    """RES and REG targets are the proposals that Mask2Former's final decoder layer
    assigns to the referred objects (mmdet's own assignment), not an earlier layer's."""
    model = build(model_cfg).train()
    inputs, samples = make_batch()
    cls_list, mask_list, owners = plant(model, monkeypatch, samples)
    res_calls = spy(monkeypatch, model.selection_head, 'loss')
    reg_calls = spy(monkeypatch, model.generation_head, 'loss')
    losses = model.loss(inputs, samples)
    assert {'loss_cls', 'd0.loss_cls', 'd1.loss_mask', 'loss_res', 'loss_reg'} <= set(losses)
    # mmdet's assignment of the final layer, computed by mmdet's own head code
    head = model.panoptic_head
    gts = head.preprocess_gt([s.gt_instances for s in samples], [None, None])
    labels, *_ = Mask2FormerHead.get_targets(head, list(cls_list[-1]), list(mask_list[-1]),
                                             gts, [s.metainfo for s in samples])
    mmdet_owner = [[int((lab == j).nonzero()) for j in range(3)] for lab in labels]
    assert mmdet_owner == [o.tolist() for o in owners[-1]]
    # expressions: image 0 refs (obj 1, obj 2, obj 2), image 1 the same
    expected = [mmdet_owner[i][obj] for i in range(2) for obj in (1, 2, 2)]
    (scores, targets, _), = res_calls
    assert targets.tolist() == expected
    assert reg_calls[0][2].tolist() == expected
    assert targets.tolist() != [owners[0][i][obj].item() for i in range(2) for obj in (1, 2, 2)]


def test_frozen_parts_and_switches(model_cfg):
    model = build(model_cfg, **dict(STEP2, train_cfg=dict(STEP2['train_cfg'],
                                                          reg_loss='teacher_forcing'))).train()
    assert not model.panoptic_head.training and not model.selection_head.training
    inputs, samples = make_batch()
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_reg'}
    losses['loss_reg'].backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert all(p.grad is None for p in model.selection_head.parameters())
    assert any(p.grad is not None for p in model.generation_head.parameters())
    # a loss on a frozen module is refused, naming it
    with pytest.raises(ValueError, match='selection_head is in frozen_modules'):
        build(model_cfg, frozen_modules=['selection_head'])
    with pytest.raises(ValueError, match='ref_assigner'):
        build(model_cfg, train_cfg=dict(ref_assigner='nearest'))


def test_disambiguation_reward_sees_the_matched_targets(model_cfg, monkeypatch):
    """Step 2: only the generation head learns, from the policy gradient whose reward
    scores the generated expressions with the frozen selection head, for the proposal
    that matching gives each referred object."""
    model = build(model_cfg, **STEP2).train()
    inputs, samples = make_batch()
    with pytest.raises(RuntimeError, match='MutualSupervisionHook'):
        model.loss(inputs, samples)
    model.set_reward(UnambiguityCiderReward(alpha=4.0, tau=2.5, corpus=CORPUS))
    cls_list, mask_list, owners = plant(model, monkeypatch, samples)
    calls = spy(monkeypatch, model, 'reward')
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_reg_rl', 'reward', 'reward_unambiguity', 'reward_cider',
                           'reward_target_wins'}
    losses['loss_reg_rl'].backward()
    assert all(p.grad is None for p in model.selection_head.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.generation_head.parameters())
    (scores, targets, texts, refs), = calls
    # 2 images x 2 refs x 3 samples, scored on their own image's proposals
    assert scores.shape == (12, 8) and len(texts) == 12
    assert refs == [TEXTS[:1]] * 3 + [TEXTS[1:]] * 3 + [TEXTS[:1]] * 3 + [TEXTS[1:]] * 3
    matched = model.match(cls_list[-1], mask_list[-1], samples)
    expected = [matched[i][obj].item() for i in range(2) for obj in (1, 2) for _ in range(3)]
    assert targets.tolist() == expected == [owners[-1][i][obj].item() for i in range(2)
                                            for obj in (1, 2) for _ in range(3)]
    with torch.no_grad():
        proposals, _, _ = model.extract_proposals(inputs, samples)
        img = torch.tensor([0] * 6 + [1] * 6)
        torch.testing.assert_close(model.select(proposals[img], texts), scores)
    # every sentence of a ref is needed (CIDEr's references)
    for s in samples:
        s.gt_refs.sentences = [[], []]
    with pytest.raises(ValueError, match='sentences'):
        model.loss(inputs, samples)


@pytest.mark.parametrize('step', ['joint', 'disambiguation'])
def test_ref_weights_scale_the_losses(model_cfg, monkeypatch, step):
    """End to end, a ref's weight multiplies its rows of loss_res, loss_reg and
    loss_reg_rl: the losses are linear in the weights of the two images' refs."""
    # baseline 'none': an image whose beam samples all earn the same reward would
    # otherwise contribute a zero loss, whatever its weight
    changes = dict(STEP2, train_cfg=dict(STEP2['train_cfg'], policy_gradient=dict(
        num_samples=3, baseline='none'))) if step == 'disambiguation' else {}
    model = build(model_cfg, **changes).eval()  # eval: no dropout, same losses each call
    model.set_reward(UnambiguityCiderReward(corpus=CORPUS))
    inputs, samples = make_batch()
    plant(model, monkeypatch, samples)
    keys = ['loss_reg_rl'] if step == 'disambiguation' else ['loss_res', 'loss_reg']

    def losses(w0, w1):
        for s, w in zip(samples, (w0, w1)):
            s.gt_refs.weights = torch.full((2, ), float(w))
        torch.manual_seed(0)
        with torch.no_grad():
            out = model.loss(inputs, samples)
        return torch.stack([out[k] for k in keys])

    first, second, both = losses(1, 0), losses(0, 1), losses(1, 1)
    assert (first - both).abs().min() > 1e-4 and (second - both).abs().min() > 1e-4
    torch.testing.assert_close(losses(0.3, 2.0), 0.3 * first + 2.0 * second)
    torch.testing.assert_close(both, first + second)


def test_generated_refs_train_res_only_unless_asked(model_cfg, monkeypatch):
    inputs, samples = make_batch()
    samples[0].gt_refs.generated = torch.tensor([True, True])
    samples[1].gt_refs.generated = torch.tensor([False, False])
    for reg_on_generated, rows in ((False, 3), (True, 6)):
        model = build(model_cfg, train_cfg=dict(reg_on_generated=reg_on_generated)).eval()
        plant(model, monkeypatch, samples)
        res_calls = spy(monkeypatch, model.selection_head, 'loss')
        reg_calls = spy(monkeypatch, model.generation_head, 'loss')
        model.loss(inputs, samples)
        assert len(res_calls[0][1]) == 6 and len(reg_calls[0][1]) == rows


def test_non_finite_loss_is_an_error_naming_the_term(model_cfg):
    model = build(model_cfg)
    losses = dict(loss_res=torch.tensor(1.0), loss_mask=torch.tensor(float('nan')),
                  reward=torch.tensor(float('inf')))  # not a loss: only logged
    with pytest.raises(FloatingPointError, match='loss_mask'):
        model.parse_losses(losses)
    total, log_vars = model.parse_losses(dict(loss_res=torch.tensor(1.0)))
    assert total.item() == 1.0


def test_predict_outputs_at_original_resolution(model_cfg):
    model = build(model_cfg).eval()
    inputs, samples = make_batch(ori=(96, 80))
    with torch.no_grad():
        out = model.predict(inputs, samples)
    for s in out:
        assert s.pred_sents.masks.shape == (3, 96, 80)
        assert s.pred_sents.masks.dtype == torch.bool
        assert s.pred_sents.bboxes.shape == (3, 4)
        assert s.pred_sents.proposal_inds.max() < 8
        assert len(s.pred_refs.texts) == 2
        assert all(isinstance(t, str) for t in s.pred_refs.texts)


def test_predicted_masks_are_the_picked_proposals_cropped_and_resized(model_cfg, monkeypatch):
    """pred_sents.masks: the picked proposal's mask, upsampled to the padded input, the
    padding (columns 54-63 of 64) cropped away, resized to the original 96 x 80."""
    model = build(model_cfg).eval()
    inputs, samples = make_batch(ori=(96, 80))
    cls_list, mask_list, _ = plant(model, monkeypatch, samples)
    logits = torch.full((16, 16), -5.0)
    logits[:, :8] = 5.0  # left half of the padded input: columns 0-31
    logits[:, 14:] = 5.0  # the padding only: must be cropped away
    mask_list[-1][:] = logits
    with torch.no_grad():
        out = model.predict(inputs, samples, reg=False)
    mask = out[0].pred_sents.masks[0]
    # column 32 of the 54 image columns is column 32 * 80 / 54 = 47.4 of the original
    assert mask[:, :46].all() and not mask[:, 49:].any()
    torch.testing.assert_close(model.postprocess_masks(logits[None], samples[0].metainfo)[0],
                               mask)


def test_match_targets_by_mask_and_box(model_cfg):
    model = build(model_cfg)
    _, samples = make_batch()
    gt = samples[0].gt_instances
    masks = torch.from_numpy(gt.masks.masks).float()
    # proposals: noise, except that proposals 5, 0 and 3 are the objects 0, 1, 2
    logits = torch.full((8, 16, 16), -10.0)
    small = torch.nn.functional.interpolate(masks[None], (16, 16))[0]
    for obj, prop in enumerate([5, 0, 3]):
        logits[prop] = small[obj] * 20 - 10
    cls = torch.zeros(8, 6)
    meta = samples[0].metainfo
    for by in ('mask', 'box'):
        got = model.panoptic_head.match_targets(cls, logits, gt, meta, by=by)
        assert got.tolist() == [5, 0, 3], by
    # Mask2Former's duplicates: proposal 6 fits object 1 exactly, proposal 0 less well
    # (less confident, its last row missing), but 6 is classified "no object"; the object
    # maps to the proposal that Mask2Former's assignment (class term included) would pick.
    logits[6] = logits[0]
    rows = small[1].sum(1).nonzero()[:, 0]
    logits[0] = small[1] * 6 - 3
    logits[0, rows[-1]] = -3
    cls[:, -1] = -5.0
    cls[6, -1] = 5.0
    for by in ('mask', 'box'):
        got = model.panoptic_head.match_targets(cls, logits, gt, meta, by=by)
        assert got.tolist() == [5, 0, 3], by
    with pytest.raises(ValueError):
        model.panoptic_head.match_targets(cls, logits, gt, meta, by='point')


def test_checkpoint_roundtrip_reproduces_predictions(model_cfg, tmp_path):
    model = build(model_cfg, seed=0).eval()
    inputs, samples = make_batch()
    with torch.no_grad():
        ref = model.predict(inputs, copy.deepcopy(samples))
    other = build(model_cfg, seed=123).eval()

    def outputs(samples):
        return [(s.pred_sents.masks, s.pred_sents.proposal_inds, s.pred_refs.texts)
                for s in samples]

    def same(a, b):
        return all(torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) and x[2] == y[2]
                   for x, y in zip(a, b))

    with torch.no_grad():
        before = other.predict(inputs, copy.deepcopy(samples))
    assert not same(outputs(ref), outputs(before))  # a different model predicts otherwise
    path = tmp_path / 'model.pth'
    torch.save(to_plain({'state_dict': model.state_dict()}), path)
    load_checkpoint(other, str(path), map_location='cpu', strict=True)
    with torch.no_grad():
        got = other.predict(inputs, copy.deepcopy(samples))
    assert same(outputs(ref), outputs(got))


def test_referee_scores_generated_expressions_for_rb_acc(model_cfg, tmp_path):
    referee_model = build(model_cfg, seed=5).eval()
    path = tmp_path / 'referee.pth'
    torch.save(to_plain({'state_dict': referee_model.state_dict()}), path)
    model = build(model_cfg, seed=0, referee=dict(checkpoint=str(path))).eval()
    # the referee keeps the separately trained weights through init_weights
    for a, b in zip(model.referee.selection_head.parameters(),
                    referee_model.selection_head.parameters()):
        assert torch.equal(a, b)
    assert not any(p.requires_grad for p in model.referee.parameters())
    inputs, samples = make_batch()
    with torch.no_grad():
        out = model.predict(inputs, samples)
        proposals, _, _ = model.extract_proposals(inputs, samples)
        for i, s in enumerate(out):
            texts = s.pred_refs.texts
            feats, pad = referee_model.text_encoder(texts)
            scores = referee_model.selection_head(proposals[[i] * len(texts)], feats, pad)
            expected = scores.argmax(-1) == s.pred_refs.proposal_inds
            assert s.pred_refs.rb_correct.dtype == torch.bool
            assert torch.equal(s.pred_refs.rb_correct, expected)


def test_one_scoring_of_texts_against_proposals(model_cfg):
    """score_texts is how rewards, refer-back and Rb-Acc score written expressions: K texts
    per row against the proposals of the row's image, without gradient."""
    model = build(model_cfg).eval()
    torch.manual_seed(3)
    proposals = torch.randn(2, 8, 64, requires_grad=True)
    texts = [[TEXTS[0], TEXTS[1]], [TEXTS[1], 'a blue circle'], [TEXTS[0], TEXTS[0]]]
    img_inds = torch.tensor([1, 0, 1])
    scores = model.score_texts(proposals, img_inds, texts)
    assert scores.shape == (3, 2, 8) and not scores.requires_grad
    with torch.no_grad():
        for m, row in enumerate(texts):
            torch.testing.assert_close(
                scores[m], model.select(proposals[img_inds[[m, m]]], row))
    with pytest.raises(ValueError, match='as many texts'):
        model.score_texts(proposals, img_inds, [[TEXTS[0]], [], [TEXTS[1]]])


def test_no_fusion_head_and_configs_that_name_one_still_build(model_cfg):
    """mmdet's fusion head picks masks by class score; RES picks the selection head's
    proposal, so the model builds none. It has no weights: checkpoints of models that
    built one load strictly."""
    from mmdet.models.seg_heads import MaskFormerFusionHead
    model = build(model_cfg)
    assert not hasattr(model, 'panoptic_fusion_head')
    named = build(model_cfg, panoptic_fusion_head=dict(type='MaskFormerFusionHead',
                                                       num_things_classes=3))
    assert not hasattr(named, 'panoptic_fusion_head')
    assert list(named.state_dict()) == list(model.state_dict())
    assert not MaskFormerFusionHead(num_things_classes=3, num_stuff_classes=0).state_dict()


def test_detached_proposals_train_the_extractor_by_segmentation_only(model_cfg):
    """Ablation (a) of Tables 3 and 6: the referring losses leave the extractor alone."""
    inputs, samples = make_batch()
    for detach in (False, True):
        model = build(model_cfg, train_cfg=dict(detach_proposals=detach,
                                                proposal_loss=False)).train()
        losses = model.loss(inputs, samples)
        (losses['loss_res'] + losses['loss_reg']).backward()
        grads = [p.grad for p in model.panoptic_head.parameters() if p.requires_grad]
        reached = any(g is not None and g.abs().sum() > 0 for g in grads)
        assert reached != detach
        assert any(p.grad is not None for p in model.selection_head.parameters())
