# Step 3 as the paper runs it ("re-train the entire network"), for the tiny CPU model: step 1's
# recipe (from the step-0 extractor, one sample per image, lr 1e-3, 1,000 iterations) on
# human + pseudo refs written by the step-2 model. Its control is step 1 itself (same init,
# iterations and seed, human refs only). On a schedule this short the human images are a
# fifth of the samples; human_repeat=4 gives them their step-1 share back (ours; see README).
_base_ = './synthetic_step1_joint_tiny.py'
step2_checkpoint = 'work_dirs/synthetic_step2_rl_tiny/iter_1000.pth'
custom_hooks = [
    dict(type='MutualSupervisionHook',
         # 3 expressions, area >= 32^2, weight 0.1: GenerationSupervision's defaults
         generation_supervision=dict(
             checkpoint=step2_checkpoint,
             unannotated=dict(type='UnannotatedInstanceDataset', data_root='data/synthetic/',
                              ann_file='coco/annotations/instances_train2014.json',
                              refs_files=['refcoco/refs(unc).p', 'refcoco+/refs(unc).p'],
                              data_prefix=dict(img_path='coco/train2014/')),
             protected_refs_files=['data/synthetic/refcoco/refs(unc).p',
                                   'data/synthetic/refcoco+/refs(unc).p'],
             min_area=32 * 32,  # 128-px images: 6 % of an image, as 80^2 of 640 x 480
             human_repeat=4,
             num_workers=0))
]
