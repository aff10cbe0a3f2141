//! tokio-util codecs for NSCA data packets (encrypting encoder for clients, decrypting decoder
//! for receivers).
