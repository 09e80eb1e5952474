// The engines' time type, for everything that drives an XMPPCore or Jingle engine.
@_exported import EngineTime
