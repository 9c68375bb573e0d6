// SHA-256 over a file read in slices, for the upload's declared checksum. WebCrypto's digest takes the whole file at
// once (a 200 MB video in a phone's memory) and exists only on HTTPS; this keeps 4 MiB at a time. The server checks
// the bytes it receives against it, so a wrong sum is refused, never stored.
(function (root) {
  "use strict";
  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);

  function Sha256() {
    this.h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    this.w = new Uint32Array(64);
    this.tail = new Uint8Array(64);
    this.tailLength = 0;
    this.length = 0;
  }

  Sha256.prototype.blocks = function (bytes, offset, end) {
    var w = this.w, h = this.h;
    for (; offset + 64 <= end; offset += 64) {
      for (var i = 0; i < 16; i++) {
        var j = offset + i * 4;
        w[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
      }
      for (i = 16; i < 64; i++) {
        var a = w[i - 15], b = w[i - 2];
        var s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        var s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      var A = h[0], B = h[1], C = h[2], D = h[3], E = h[4], F = h[5], G = h[6], H = h[7];
      for (i = 0; i < 64; i++) {
        var S1 = ((E >>> 6) | (E << 26)) ^ ((E >>> 11) | (E << 21)) ^ ((E >>> 25) | (E << 7));
        var t1 = (H + S1 + ((E & F) ^ (~E & G)) + K[i] + w[i]) | 0;
        var S0 = ((A >>> 2) | (A << 30)) ^ ((A >>> 13) | (A << 19)) ^ ((A >>> 22) | (A << 10));
        var t2 = (S0 + ((A & B) ^ (A & C) ^ (B & C))) | 0;
        H = G; G = F; F = E; E = (D + t1) | 0; D = C; C = B; B = A; A = (t1 + t2) | 0;
      }
      h[0] += A; h[1] += B; h[2] += C; h[3] += D; h[4] += E; h[5] += F; h[6] += G; h[7] += H;
    }
    return offset;
  };

  Sha256.prototype.update = function (bytes) {
    this.length += bytes.length;
    var offset = 0;
    if (this.tailLength) {
      offset = Math.min(64 - this.tailLength, bytes.length);
      this.tail.set(bytes.subarray(0, offset), this.tailLength);
      this.tailLength += offset;
      if (this.tailLength < 64) { return; }
      this.blocks(this.tail, 0, 64);
      this.tailLength = 0;
    }
    offset = this.blocks(bytes, offset, bytes.length);
    this.tail.set(bytes.subarray(offset), 0);
    this.tailLength = bytes.length - offset;
  };

  Sha256.prototype.hex = function () {
    var bits = this.length * 8, pad = new Uint8Array(((this.tailLength + 8) >> 6 << 6) + 64 - this.tailLength);
    pad[0] = 0x80;
    var high = Math.floor(bits / 0x100000000), low = bits >>> 0, n = pad.length;
    pad[n - 8] = high >>> 24; pad[n - 7] = high >>> 16; pad[n - 6] = high >>> 8; pad[n - 5] = high;
    pad[n - 4] = low >>> 24; pad[n - 3] = low >>> 16; pad[n - 2] = low >>> 8; pad[n - 1] = low;
    this.update(pad);
    return Array.from(this.h, function (v) { return (v >>> 0).toString(16).padStart(8, "0"); }).join("");
  };

  // the file's SHA-256 as hex; `progress(done, total)` after each slice
  async function sha256OfFile(file, progress) {
    var hash = new Sha256(), slice = 4 * 1024 * 1024;
    for (var at = 0; at < file.size; at += slice) {
      hash.update(new Uint8Array(await file.slice(at, at + slice).arrayBuffer()));
      if (progress) { progress(Math.min(at + slice, file.size), file.size); }
    }
    return hash.hex();
  }

  root.Sha256 = Sha256;
  root.sha256OfFile = sha256OfFile;
})(window);
