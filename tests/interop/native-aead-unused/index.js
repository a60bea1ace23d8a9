// node-dtls-client loads node-aead-crypto only on node < 10; Tern's tests run on newer node,
// where it uses node:crypto's AES-CCM and AES-GCM.
throw new Error('node-aead-crypto is not installed: node-dtls-client uses node:crypto on node >= 10');
