# Step 3's pool and protected files on the built-in synthetic benchmark (tiny configs): the
# instances of the generator's images without refs; the paper's values (3 expressions,
# area >= 32^2, weight 0.1) are GenerationSupervision's defaults.
step2_checkpoint = 'work_dirs/synthetic_step2_rl_tiny/iter_400.pth'
synthetic_generation_supervision = dict(
    checkpoint=step2_checkpoint,
    unannotated=dict(type='UnannotatedInstanceDataset', data_root='data/synthetic/',
                     ann_file='coco/annotations/instances_train2014.json',
                     refs_files=['refcoco/refs(unc).p', 'refcoco+/refs(unc).p'],
                     data_prefix=dict(img_path='coco/train2014/')),
    protected_refs_files=['data/synthetic/refcoco/refs(unc).p',
                          'data/synthetic/refcoco+/refs(unc).p'],
    # 128-px images: 32^2 is 6 % of an image, as 80^2 of a 640 x 480 COCO image
    min_area=32 * 32,
    num_workers=0)
