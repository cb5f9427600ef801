# Table 8 (RES on RefCOCO val at 640 x 640), step 1: the long side resized to 640 and the
# short side padded to 640 (paper Sec. 4.3). Our reading: all three steps run at 640
# (refcoco_step2_rl_640px.py, refcoco_step3_gensup_640px.py, whose RES is the table's);
# the 1024 row is the main chain (long side 1024, padded to a multiple of 32).
_base_ = '../mutual/refcoco_step1_joint.py'
image_size = 640  # paper
train_pipeline = _base_.sized_pipelines['640px'].train  # see _base_/datasets/refcoco.py
test_pipeline = _base_.sized_pipelines['640px'].test
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# the short side is padded by the data preprocessor (to a multiple of 640, i.e. to 640): mmdet's
# Pad transform would also set img_shape to the padded size, which the predicted masks are
# cropped to before being resized back to the original image
model = dict(data_preprocessor=dict(pad_size_divisor=image_size))
