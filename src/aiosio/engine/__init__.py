"""The asyncio Engine.IO v4 server: sessions, the polling and WebSocket transports."""
