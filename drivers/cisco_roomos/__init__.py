"""Cisco TelePresence / Webex codecs (TC, CE, RoomOS) by concern:

- ``xapi``: the grammar every framing shares (leaves, request parsing, configuration paths);
- ``channels``: the framings behind one ``exchange`` — terminal (here), JSON
  (``json_channel``) and HTTP getxml/putxml (``http_channel``);
- ``session``: logging in over a byte stream and setting the session up;
- ``calls``: what feedback tells about calls (bounded record of finished calls);
- ``driver``: ``CiscoRoomOSDriver``, the roles on top.
"""

from drivers.cisco_roomos.driver import CiscoRoomOSDriver

__all__ = ["CiscoRoomOSDriver"]
