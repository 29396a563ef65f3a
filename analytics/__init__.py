"""Pure analytics over detections and time: no I/O, no cv2, no database."""
