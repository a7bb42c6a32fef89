"""Sans-I/O protocol core: codecs and state machines that never touch a socket, a loop or a clock."""
