"""Tools beside the product, reached through the `hallwatch` CLI: benchmarks (`bench`), accuracy
evaluation on labelled clips and the generator of the synthetic set (`evaluate`), the camera
simulator that serves real RTSP for the demo and tests (`simulator`), and the generator of the int8
calibration frames (`calibration`). The product never imports them; they may import the product."""
