"""Image data sets read from their standard files, never downloaded at run time.

:mod:`~zeroevo.data.images` reads Fashion-MNIST (the Debian package's IDX files), MNIST and
CIFAR-10 from the files a user points at, and scikit-learn's bundled digits. Both genome
families use them: neural candidates train on the images, program tasks project them.
"""
from zeroevo.data.images import ImageData, load_image_dataset

__all__ = ["ImageData", "load_image_dataset"]
