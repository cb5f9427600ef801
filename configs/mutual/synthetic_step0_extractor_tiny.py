# Pre-training of the proposal extractor of the tiny CPU model: Mask2Former's instance
# segmentation on every image of the synthetic benchmark except its val/test images, as
# the paper pre-trains Mask2Former on COCO with the RefCOCO/+/g val/test images removed
# (Sec. 4.1). The referring heads are frozen and have no loss here; step 1 starts from
# this checkpoint (load_from), as the paper's step 1 starts from the pre-trained extractor.
_base_ = [
    '../_base_/models/refmutual_r18_tiny.py', '../_base_/datasets/synthetic_refcoco.py',
    '../_base_/schedules/step1_joint_90k.py', '../_base_/tiny_cpu_runtime.py'
]
model = dict(
    generation_head=dict(vocab={{_base_.vocab_file}}),
    frozen_modules=['text_encoder', 'selection_head', 'generation_head'],
    train_cfg=dict(res_loss=False, reg_loss=None))
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ExtractorPretrainDataset',
        data_root={{_base_.data_root}},
        ann_file='coco/annotations/instances_train2014.json',
        data_prefix=dict(img_path='coco/train2014/'),
        protected_refs_files=['refcoco/refs(unc).p', 'refcoco+/refs(unc).p'],
        pipeline={{_base_.test_pipeline}}))
max_iters = 1000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
val_cfg = None
val_dataloader = None
val_evaluator = None
# lr 1e-3: at 3e-4 the classes are barely learned in 1,000 iterations (docs/choices.md)
optim_wrapper = dict(
    optimizer=dict(lr=1e-3),
    # one parameter group: trained from scratch, every part at the same rate (and the
    # per-parameter groups of the paper's recipe cost 5 % of a CPU iteration)
    paramwise_cfg=None)
param_scheduler = dict(end=max_iters, milestones=[int(max_iters * 2 / 3), int(max_iters * 8 / 9)])
