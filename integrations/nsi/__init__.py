"""The federal NSI portal (nsi.rosminzdrav.ru): its client and a local emulator. See docs/nsi.md."""
