// decryptor: see decryptor.h (in progress)
