_base_ = './refcoco.py'
# RefCOCOg, Google partition (train/val): the REG benchmark split (Table 1, val-g).
split_file = 'refcocog/refs(google).p'
vocab_file = 'data/refcocog/vocab_google.txt'
ann_file = 'refcocog/instances.json'
train_dataloader = dict(dataset=dict(ann_file=ann_file, split_file=split_file))
val_dataloader = dict(dataset=dict(ann_file=ann_file, split_file=split_file))
test_dataloader = val_dataloader
