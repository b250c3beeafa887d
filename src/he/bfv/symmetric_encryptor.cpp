// symmetric_encryptor: see symmetric_encryptor.h (in progress)
