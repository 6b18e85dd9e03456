// The built app in headless Chromium on SwiftShader: WebGPU is found in the worker,
// the kernel self-test agrees with the CPU reference, and a tiny checkpoint folder
// picked with the folder input gives the same next-token logits as the same engine
// on Dawn in Node.
import { nodeGpu } from '../../src/gpu/node.ts';
import { Engine } from '../../src/worker/engine.ts';
import { check, type E2eContext } from './context.ts';
import { writeTinyGlm2Checkpoint } from './tiny-checkpoint.ts';

const PROMPT_IDS = [5, 17, 42, 3, 9];
/** The page shows logits with 4 decimals; Chromium's and Dawn's SwiftShader run the same WGSL. */
const LOGIT_TOL = 1e-3;

export default async function appTest({ page, baseUrl, resultsDir, log, screenshot }: E2eContext): Promise<void> {
  await page.goto(baseUrl);
  await page.getByRole('heading', { name: 'ChatUIE Web' }).waitFor();

  // WebGPU panel: an adapter (or the "not available" message, which fails the test here).
  const adapter = page.getByTestId('gpu-adapter');
  const missing = page.getByTestId('gpu-missing');
  await adapter.or(missing).waitFor({ timeout: 60_000 });
  if (await missing.isVisible()) throw new Error(`the app reports no WebGPU: ${await missing.innerText()}`);
  const adapterText = (await adapter.innerText()).trim();
  log(`adapter: ${adapterText}`);
  check(/swiftshader|google|nvidia|amd|intel|apple/i.test(adapterText), `unexpected adapter text "${adapterText}"`);
  await page.getByText('maxStorageBufferBindingSize').waitFor();

  // Kernel self-test: the same matmul/matvec WGSL as the Node tests, run in the worker.
  await page.getByRole('button', { name: 'Run kernel self-test' }).click();
  const selfTest = page.getByTestId('selftest-result');
  await selfTest.waitFor({ timeout: 120_000 });
  const selfTestText = await selfTest.innerText();
  log(`self-test: ${selfTestText}`);
  const match = /max \|diff\| = (\S+)/.exec(selfTestText);
  check(match !== null, `no "max |diff|" in "${selfTestText}"`);
  const maxDiff = Number(match[1]);
  check(Number.isFinite(maxDiff) && maxDiff < 1e-4, `self-test max |diff| ${match[1]} is not below 1e-4`);
  await screenshot('gpu');

  // Model: a random tiny ChatGLM2 folder, picked through the folder input.
  const checkpoint = writeTinyGlm2Checkpoint(resultsDir);
  log(`wrote ${checkpoint.dir} (${Object.keys(checkpoint.files).join(', ')})`);
  await page.getByTestId('model-folder').setInputFiles(checkpoint.dir);
  const summary = page.getByTestId('model-summary');
  const modelError = page.getByTestId('model-error');
  await summary.or(modelError).waitFor({ timeout: 120_000 });
  if (await modelError.isVisible()) throw new Error(`loading the checkpoint failed: ${await modelError.innerText()}`);
  const summaryText = await summary.innerText();
  log(`model: ${summaryText.replace(/\s+/g, ' ')}`);
  check(/layers\s+2\b/.test(summaryText) && /hidden\s+32\b/.test(summaryText), `summary does not show 2 layers / hidden 32: ${summaryText}`);

  await page.getByTestId('token-ids').fill(PROMPT_IDS.join(', '));
  await page.getByRole('button', { name: 'Next token' }).click();
  const argmaxCell = page.getByTestId('argmax');
  await argmaxCell.waitFor({ timeout: 120_000 });
  const browserArgmax = Number(await argmaxCell.innerText());
  const browserTop = await page.getByTestId('next-token-result').locator('tbody tr').evaluateAll((rows) =>
    rows.map((row) => [...row.querySelectorAll('td')].map((cell) => Number(cell.textContent))),
  );
  log(`browser: argmax ${browserArgmax}, top-5 ${JSON.stringify(browserTop)}`);
  await screenshot('model');

  // The same checkpoint files through the same engine on Dawn in this Node process.
  const engine = new Engine(await nodeGpu());
  const files = Object.entries(checkpoint.files).map(([name, content]) => new File([typeof content === 'string' ? content : new Uint8Array(content)], name));
  await engine.loadModel(files);
  const expected = await engine.nextToken(PROMPT_IDS);
  await engine.unloadModel();
  log(`node:    argmax ${expected.argmax}, top-5 ${JSON.stringify(expected.top.map((t) => [t.tokenId, Number(t.logit.toFixed(4))]))}`);
  check(browserArgmax === expected.argmax, `browser argmax ${browserArgmax} != Node argmax ${expected.argmax}`);
  check(browserTop.length === expected.top.length, `browser shows ${browserTop.length} logits, expected ${expected.top.length}`);
  expected.top.forEach(({ tokenId, logit }, rank) => {
    const [shownId, shownLogit] = browserTop[rank] ?? [];
    check(shownId === tokenId, `rank ${rank}: browser token ${shownId}, Node token ${tokenId}`);
    check(Math.abs((shownLogit ?? NaN) - logit) <= LOGIT_TOL, `rank ${rank}: browser logit ${shownLogit}, Node logit ${logit}`);
  });
}
