_base_ = './refcoco.py'
# RefCOCOg, UMD partition (train/val/test): the RES benchmark split.
split_file = 'refcocog/refs(umd).p'
vocab_file = 'data/refcocog/vocab.txt'
ann_file = 'refcocog/instances.json'
train_dataloader = dict(dataset=dict(ann_file=ann_file, split_file=split_file))
val_dataloader = dict(dataset=dict(ann_file=ann_file, split_file=split_file))
test_dataloader = val_dataloader
