// Runs a TF.js graph model with TensorFlow.js itself (pure-JS CPU backend) for export/'s parity
// check: `node tfjs_reference.cjs REQUEST.json`. The request names model.json, raw float32
// input files with their shapes, the output node names and a directory for the results; each
// output is written as raw little-endian data plus one results.json with names, shapes, dtypes.
// Module resolution comes from NODE_PATH (export/tfjs_runtime.py sets it to the pinned install).
'use strict';

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const converter = require('@tensorflow/tfjs-converter');

function toArrayBuffer(buf) {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  await tf.setBackend('cpu');
  await tf.ready();
  const spec = JSON.parse(fs.readFileSync(request.model, 'utf8'));
  const dir = path.dirname(request.model);
  const weightSpecs = [];
  const shards = [];
  for (const group of spec.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) shards.push(fs.readFileSync(path.join(dir, p)));
  }
  const artifacts = {
    modelTopology: spec.modelTopology,
    format: spec.format,
    generatedBy: spec.generatedBy,
    convertedBy: spec.convertedBy,
    signature: spec.signature,
    userDefinedMetadata: spec.userDefinedMetadata,
    weightSpecs,
    weightData: toArrayBuffer(Buffer.concat(shards)),
  };
  const model = await converter.loadGraphModel(tf.io.fromMemory(artifacts));
  const results = [];
  request.inputs.forEach((input, i) => {
    const data = fs.readFileSync(input.path);
    const x = tf.tensor(new Float32Array(toArrayBuffer(data)), input.shape, 'float32');
    const started = process.hrtime.bigint();
    let outs = model.execute(x, request.outputs);
    if (!Array.isArray(outs)) outs = [outs];
    const entry = { outputs: [] };
    outs.forEach((t, k) => {
      const file = path.join(request.out_dir, `${i}_${k}.bin`);
      const values = t.dataSync();
      fs.writeFileSync(file, Buffer.from(values.buffer, values.byteOffset, values.byteLength));
      entry.outputs.push({ name: request.outputs[k], path: file, shape: t.shape, dtype: t.dtype });
    });
    entry.ms = Number(process.hrtime.bigint() - started) / 1e6;
    results.push(entry);
    tf.dispose([x, ...outs]);
  });
  const versions = { 'tfjs-core': tf.version_core, 'tfjs-converter': converter.version_converter };
  fs.writeFileSync(
    path.join(request.out_dir, 'results.json'),
    JSON.stringify({ backend: tf.getBackend(), versions, results }),
  );
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
