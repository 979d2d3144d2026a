"""Helpers the notebooks teach with; not needed to train a GAN.

- `gan_keras.teaching.toy`: 2-D toy data and `train_ring_gan` (notebooks 02, 05)
- `gan_keras.teaching.classic`: a PCA-Gaussian model of digits (notebook 01)
- `gan_keras.teaching.latent`: walks through the latent space (notebooks 04, 06)
- `gan_keras.teaching.handwritten`: the GAN step written by hand on each backend (notebook 09)
- `gan_keras.teaching.recipes`: `train_dcgan_and_vae`, the pair notebooks 06 and 07 compare
- `gan_keras.teaching.notebook`: the Setup cell's helpers and `LiveProgress`
"""
