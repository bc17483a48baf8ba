# CPSL stage 1, SYNTHIA -> Cityscapes (16 classes), DeepLab v2 ResNet-101 (paper
# Table 2: mIoU16 54.4, mIoU13 61.7). Same hyperparameters as GTA5 -> Cityscapes: crop
# 896x512, batch 4 = 4 GPUs x 1 image, lambda1 0.1, lambda2 5, tau 0.08, epsilon 0.05,
# bank 65,536, M 512, momentum 0.999 (mmengine 0.001), lr 1e-4 / 5e-4, poly 0.9,
# weight decay 2e-4, SGD momentum 0.9, 90k iterations.
#   bash tools/dist_train.sh THIS_CONFIG 4
# Evaluation: Cityscapes val through Cityscapes16Dataset (19 train ids -> the 16
# SYNTHIA classes, terrain/truck/train ignored); SubsetIoUMetric reports mIoU (= mIoU16),
# mIoU16, mIoU13 (without wall, fence, pole) and MPA.
# Inputs from the warm-up stage (docs/paper_scale.md):
# * warmup_checkpoint: the SYNTHIA warm-up network as a plain EncoderDecoder checkpoint
#   (tools/extract_submodel.py --prefix segmentor. on the adversarial warm-up's
#   checkpoint, or the source-only warm-up's iter_40000.pth as is).
# * pseudo_label_dir (configs/_base_/datasets/synthia_to_cityscapes_896x512.py): its
#   16-class P_ST, from tools/generate_pseudo_labels.py THIS_CONFIG <warmup_checkpoint>.
_base_ = [
    '../_base_/models/deeplabv2_r101-d8.py',
    '../_base_/datasets/synthia_to_cityscapes_896x512.py', '../_base_/uda/cpsl.py',
    '../_base_/default_runtime.py', '../_base_/schedules/cpsl_90k.py'
]
warmup_checkpoint = ('work_dirs/adaptseg_deeplabv2_r101_4xb1-40k_synthia-to-'
                     'cityscapes-896x512/segmentor_iter_40000.pth')
data_preprocessor = dict(size=_base_.crop_size)
segmentor = _base_.model
segmentor['backbone'] = dict(segmentor['backbone'], init_cfg=None)
segmentor['decode_head'] = dict(
    segmentor['decode_head'], num_classes=_base_.num_classes)
model = dict(_delete_=True, **_base_.cpsl)
model.update(segmentor=segmentor, warmup_checkpoint=warmup_checkpoint)
optim_wrapper = dict(paramwise_cfg=_base_.cpsl_paramwise_cfg)
custom_hooks = _base_.cpsl_hooks
