# Step 3, generation supervision (REG -> RES, Sec. 3.3.2, 4.1 and appendix B): the step-2
# model writes g2 = 3 expressions (beam search) for every COCO instance of area >= 32^2 in
# the train2014 images without any RefCOCO/+/g expression; the entire network is re-trained
# on human + generated refs, the generated ones with loss weight 0.1, with step 1's
# training configuration (AdamW lr 5e-4, weight decay 0.05, 90k iterations, batch 8,
# lr x0.1 at 60k and 80k).
# A config of step 3 sets, besides its dataset (and load_from as in step 1):
#   custom_hooks = [dict(type='MutualSupervisionHook', generation_supervision=dict(
#       _base_.generation_supervision, checkpoint=STEP-2 CHECKPOINT))]
_base_ = './step1_joint_90k.py'
generation_supervision = dict(
    checkpoint=None,
    num_expressions=3,
    instance_filter='area',  # 'random' and 'none': the controls of Fig. 5
    min_area=32 * 32,
    weight=0.1,
    refer_back=False,  # beyond the paper: keep only expressions the RES head grounds back
    # COCO train2014 instances in images without any refs (any RefCOCO/+/g split), written
    # by tools/dataset_converters/build_unannotated_instances.py --min-area 0 (so that the
    # filters of Fig. 5 choose among all instances)
    unannotated=dict(type='UnannotatedInstanceDataset', data_root='data/',
                     ann_file='coco/annotations/instances_train2014_unannotated.json',
                     data_prefix=dict(img_path='coco/train2014/')),
    # their val/test images must never be pseudo-labelled: checked on every batch
    protected_refs_files=['data/refcoco/refs(unc).p', 'data/refcoco+/refs(unc).p',
                          'data/refcocog/refs(umd).p', 'data/refcocog/refs(google).p'],
    batch_size=8,
    num_workers=2)
