#!/usr/bin/python3
# rtsp_server.py PORT FRAMES_PATTERN - a looped bird clip over RTSP for the
# camera tests (GStreamer's RTSP server through python3-gi: FFmpeg cannot
# serve RTSP). FRAMES_PATTERN is a printf pattern of JPEG files
# (frame%03d.jpg) made by the test with ffmpeg; served as H.264 at 5 fps,
# looped for ever and paced like a live camera (identity sync=true: a non-live
# source would be pushed faster than real time and the server drops a slow
# reader), at rtsp://127.0.0.1:PORT/bird. Prints "ready" when up.
import sys
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer, GLib

Gst.init(None)
port, pattern = sys.argv[1], sys.argv[2]
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    "( multifilesrc location=%s loop=true caps=image/jpeg,framerate=5/1 ! jpegdec ! identity sync=true ! "
    "videoconvert ! video/x-raw,format=I420 ! x264enc tune=zerolatency speed-preset=ultrafast "
    "key-int-max=5 ! rtph264pay name=pay0 pt=96 config-interval=1 )" % pattern)
factory.set_shared(True)
server.get_mount_points().add_factory("/bird", factory)
if server.attach(None) == 0:
    sys.exit("cannot listen on port " + port)
print("ready", flush=True)
GLib.MainLoop().run()
