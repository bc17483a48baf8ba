# CPSL stage 1, GTA5 -> Cityscapes, DeepLab v2 ResNet-101 (paper Sec. 4.1; Table 1:
# 55.7 mIoU). Hyperparameters of the paper: crop 896x512, batch 4 = 4 GPUs x 1 image,
# lambda1 0.1, lambda2 5, tau 0.08, epsilon 0.05, bank 65,536, M 512, momentum 0.999
# (mmengine convention 0.001), lr 1e-4 / self-labeling head 5e-4, poly 0.9, weight
# decay 2e-4, SGD momentum 0.9, 90k iterations.
#   bash tools/dist_train.sh THIS_CONFIG 4
# Inputs from the warm-up stage (docs/paper_scale.md has the whole recipe):
# * warmup_checkpoint: the warm-up network as a plain EncoderDecoder checkpoint. From
#   the adversarial warm-up (the paper's) it is extracted from its checkpoint with
#   tools/extract_submodel.py --prefix segmentor. (path below); from the source-only
#   warm-up use work_dirs/deeplabv2_r101_4xb1-40k_gta5-896x512/iter_40000.pth as is.
#   Student, EMA teacher and prototypes start from it; a missing file stops training
#   before the first iteration, naming model.warmup_checkpoint.
# * pseudo_label_dir (configs/_base_/datasets/gta5_to_cityscapes_896x512.py): P_ST of
#   that network, written by tools/generate_pseudo_labels.py THIS_CONFIG
#   <warmup_checkpoint> (it writes exactly where this config reads).
_base_ = [
    '../_base_/models/deeplabv2_r101-d8.py',
    '../_base_/datasets/gta5_to_cityscapes_896x512.py', '../_base_/uda/cpsl.py',
    '../_base_/default_runtime.py', '../_base_/schedules/cpsl_90k.py'
]
warmup_checkpoint = ('work_dirs/adaptseg_deeplabv2_r101_4xb1-40k_gta5-to-cityscapes-'
                     '896x512/segmentor_iter_40000.pth')
data_preprocessor = dict(size=_base_.crop_size)
# The warm-up checkpoint replaces the ImageNet initialisation: no download.
segmentor = _base_.model
segmentor['backbone'] = dict(segmentor['backbone'], init_cfg=None)
model = dict(_delete_=True, **_base_.cpsl)
model.update(segmentor=segmentor, warmup_checkpoint=warmup_checkpoint)
optim_wrapper = dict(paramwise_cfg=_base_.cpsl_paramwise_cfg)
custom_hooks = _base_.cpsl_hooks
