// The built app in headless Chromium on SwiftShader: WebGPU is found in the worker,
// the kernel self-test agrees with the CPU reference, a config.json too wide for any
// storage binding is refused before its weights are fetched (the message names the
// limit), and a tiny checkpoint served at a URL (page.route) loads with a progress bar
// and gives the same next-token logits as the same engine on Dawn in Node. Then the
// bundled demo model loads with one click and is fine-tuned (LoRA) on a few CoNLL04
// sentences, highlighted in the Data preview, with pause and resume; after a reload (a
// closed tab) the run autosaved in OPFS is offered and resumed to the end, the loss
// having fallen. A fine-tuned sentence is extracted with a gold entity highlighted exactly
// (span and type), a span is corrected (the preference-pair count rises), and the merged
// checkpoint is exported, re-loaded through the folder picker, and answers as base + adapter did.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { nodeGpu } from '../../src/gpu/node.ts';
import { recommendedTagScales, tagBiasLabel, type RecommendedTagScales } from '../../src/ie/tag-label.ts';
import { Engine } from '../../src/worker/engine.ts';
import { DATA_DIR } from '../ie/realdata.ts';
import { check, type E2eContext } from './context.ts';
import { shortConll04Lines, writeTinyIeCheckpoint } from './tiny-checkpoint.ts';

/** The built app (the demo model is bundled there when public/models/chatuie-demo/ exists). */
const DIST_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist');

/** SFT steps of the browser run (SwiftShader: seconds per ~150-token sequence). */
const TRAIN_STEPS = 16;

const PROMPT_IDS = [5, 17, 42, 3, 9];
/** The page shows logits with 4 decimals; Chromium's and Dawn's SwiftShader run the same WGSL. */
const LOGIT_TOL = 1e-3;

/** Serves `files` under `folderUrl` through the page's router (anything else there: 404), recording the names asked for. */
async function serveCheckpoint(page: Page, folderUrl: string, files: Record<string, Uint8Array | string>, holdWeightsMs = 400): Promise<{ requested: string[] }> {
  const requested: string[] = [];
  await page.route(`${folderUrl}**`, async (route) => {
    const name = decodeURIComponent(new URL(route.request().url()).pathname.split('/').pop() ?? '');
    requested.push(name);
    const content = files[name];
    if (content === undefined) return route.fulfill({ status: 404, contentType: 'text/plain', body: `not found: ${name}` });
    if (name.endsWith('.safetensors')) await new Promise((resolve) => setTimeout(resolve, holdWeightsMs));
    return route.fulfill({ status: 200, contentType: name.endsWith('.json') ? 'application/json' : 'application/octet-stream', body: Buffer.from(content) });
  });
  return { requested };
}

/** A config.json (the tiny model's, with FFN rows of 2^31 floats) that no device can bind: refused, naming the limit, and no weight fetched. */
async function refuseModelThatDoesNotFit({ page, baseUrl, log, screenshot }: E2eContext, tinyConfig: Record<string, unknown>): Promise<void> {
  const folderUrl = `${baseUrl}e2e-models/too-wide/`;
  const served = await serveCheckpoint(page, folderUrl, { 'config.json': JSON.stringify({ ...tinyConfig, ffn_hidden_size: 2 ** 31 }), 'model.safetensors': new Uint8Array(8) });
  await page.getByTestId('model-url').fill(folderUrl);
  await page.getByRole('button', { name: 'Load from URL' }).click();
  const error = page.getByTestId('model-error');
  await error.waitFor({ timeout: 60_000 });
  const message = await error.innerText();
  log(`does not fit: ${message}`);
  check(/^This model does not fit this device: .*maxStorageBufferBindingSize/.test(message), `the refusal does not name the limit: ${message}`);
  check(/does not fit this device/.test(await page.getByTestId('model-fit-verdict').innerText()), 'the fit table does not say "does not fit"');
  check(served.requested.join(',') === 'config.json', `weights were requested for a model that does not fit: ${served.requested.join(', ')}`);
  await screenshot('does-not-fit');
}

/** The bundled demo model (public/models/chatuie-demo/, copied into dist/ by the build). */
const DEMO_DIR = join(DIST_DIR, 'models', 'chatuie-demo');

/** The demo button loads the bundled model from its URL; the summary names its layers and its URL. */
async function loadDemoModel({ page, log }: E2eContext): Promise<{ numLayers: number; tagLabel: string | null }> {
  check(existsSync(join(DEMO_DIR, 'config.json')), `the build has no demo model (${DEMO_DIR}/config.json): public/models/chatuie-demo/ is missing`);
  const config = JSON.parse(readFileSync(join(DEMO_DIR, 'config.json'), 'utf8')) as { num_layers: number; chatuie_prompt_tags?: RecommendedTagScales };
  const numLayers = config.num_layers;
  const tags = config.chatuie_prompt_tags;
  // The tag-guided decoding it recommends, as the app names it ("λ 2" or "λ 2, λ_end 1, λ_list 2"), or null.
  const tagLabel = tags ? tagBiasLabel(recommendedTagScales(tags)) || null : null;
  await page.getByRole('button', { name: 'Load the demo model' }).click();
  const error = page.getByTestId('model-error');
  const summary = page.getByTestId('model-summary');
  await page.getByTestId('model-origin').filter({ hasText: 'models/chatuie-demo/' }).or(error).waitFor({ timeout: 180_000 });
  if (await error.isVisible()) throw new Error(`loading the bundled demo model failed: ${await error.innerText()}`);
  // The panel's load time (download, config check, weights onto the GPU): a number for the README, not a bound.
  const summaryText = await summary.innerText();
  log(`demo model: ${summaryText.replace(/\s+/g, ' ')}`);
  check(/ in \d+\.\d\d s$/.test(await page.getByTestId('model-load-time').innerText().then((t) => ` ${t.trim()}`)), 'the summary shows no load time');
  check(new RegExp(`layers\\s+${numLayers}\\b`).test(summaryText), `the demo model summary does not show ${numLayers} layers: ${summaryText}`);
  // A demo model that recommends tag-guided decoding says so in its summary.
  if (tagLabel !== null) check(summaryText.includes(`${tagLabel} for `), `the demo model summary does not show its tag-guided ${tagLabel}: ${summaryText}`);
  return { numLayers, tagLabel };
}

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
  await page.getByText('maxStorageBufferBindingSize').first().waitFor();

  // A new user's page loads the bundled demo model by itself (src/state/startup.ts).
  const modelError = page.getByTestId('model-error');
  await page.getByTestId('model-origin').filter({ hasText: 'models/chatuie-demo/' }).or(modelError).waitFor({ timeout: 180_000 });
  if (await modelError.isVisible()) throw new Error(`the page did not load the demo model by default: ${await modelError.innerText()}`);
  log(`loaded by default: ${(await page.getByTestId('model-summary').innerText()).replace(/\s+/g, ' ')}`);

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

  // Before loading: a config.json whose FFN rows are wider than any storage binding is refused after config.json alone.
  const lines = shortConll04Lines(readFileSync(join(DATA_DIR, 'conll04', 'dev.jsonl'), 'utf8'), 4);
  const checkpoint = writeTinyIeCheckpoint(resultsDir, lines);
  log(`wrote ${checkpoint.dir} (${Object.keys(checkpoint.files).join(', ')})`);
  await refuseModelThatDoesNotFit({ page, baseUrl, log, screenshot } as E2eContext, checkpoint.config.raw);

  // Model: a random tiny ChatGLM2 folder with a word-level tokenizer of a few CoNLL04 sentences, served at a URL
  // (the folder picker loads the exported checkpoint at the end).
  const served = await serveCheckpoint(page, `${baseUrl}e2e-models/tiny-ie-glm2/`, checkpoint.files);
  await page.getByTestId('model-url').fill(`${baseUrl}e2e-models/tiny-ie-glm2/`);
  await page.getByRole('button', { name: 'Load from URL' }).click();
  // The weights' response is held back a moment: the progress bar shows the download.
  const progressText = await page.getByTestId('model-progress').innerText({ timeout: 30_000 });
  log(`progress: ${progressText.replace(/\s+/g, ' ')}`);
  check(/(Downloading|Reading weights).*MB/.test(progressText.replace(/\s+/g, ' ')), `the progress bar does not show MB: ${progressText}`);
  const summary = page.getByTestId('model-summary');
  await summary.or(modelError).waitFor({ timeout: 120_000 });
  if (await modelError.isVisible()) throw new Error(`loading the checkpoint from its URL failed: ${await modelError.innerText()}`);
  const summaryText = await summary.innerText();
  log(`model: ${summaryText.replace(/\s+/g, ' ')}`);
  log(`requested: ${served.requested.join(', ')}`);
  check(/layers\s+1\b/.test(summaryText) && /hidden\s+32\b/.test(summaryText), `summary does not show 1 layer / hidden 32: ${summaryText}`);
  check((await page.getByTestId('model-origin').innerText()).includes('e2e-models/tiny-ie-glm2/'), 'the summary does not name the URL');
  check(served.requested[0] === 'config.json' && served.requested.includes('model.safetensors') && served.requested.includes('tokenizer.json'), `unexpected requests: ${served.requested.join(', ')}`);
  check((await page.getByTestId('model-fit-verdict').textContent()) === 'fits this device', 'the fit table (folded once loaded) does not say the model fits');

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

  // The rest runs on the bundled demo model: fine-tune it on a few CoNLL04 sentences, extract, correct, export.
  const demo = await loadDemoModel({ page, log } as E2eContext);
  await screenshot('demo-model');
  await trainInTheBrowser({ page, resultsDir, log, screenshot } as E2eContext, lines);
  await extractCorrectExport({ page, resultsDir, log, screenshot } as E2eContext, lines, demo.numLayers, demo.tagLabel);
}

/** Answer tokens of the browser extraction (the constraint closes the answer within them; its closing reserve is ≈40 tokens for this schema, so a budget near that would close the answer after its first mention). */
const EXTRACT_TOKENS = 96;

async function extractCorrectExport({ page, resultsDir, log, screenshot }: E2eContext, lines: string[], numLayers: number, tagLabel: string | null): Promise<void> {
  // Extract (constrained) from one of the fine-tuning sentences, with the trained run's adapter.
  const gold = JSON.parse(lines[0]!) as { text: string; entities: { start: number; end: number; type: string }[] };
  const sentence = gold.text;
  const goldTypes = new Map(gold.entities.map((entity) => [sentence.slice(entity.start, entity.end), entity.type]));
  await page.getByTestId('extract-text').fill(sentence);
  await page.getByTestId('extract-max-tokens').fill(String(EXTRACT_TOKENS));
  // An entity-only schema (the Data panel's entity types): the answer can hold nothing but entities.
  await page.getByTestId('extract-use-data-schema').uncheck();
  const dataSchema = JSON.parse(await page.getByTestId('extract-schema').inputValue()) as { entityTypes: string[] };
  await page.getByTestId('extract-schema').fill(JSON.stringify({ entityTypes: dataSchema.entityTypes, relationTypes: [], eventTypes: [] }));
  check(await page.getByTestId('extract-constrained').isChecked(), 'constrained decoding is not on by default');
  await page.getByRole('button', { name: 'Extract', exact: true }).click();
  const result = page.getByTestId('extract-result');
  const extractError = page.getByTestId('extract-error');
  await result.or(extractError).waitFor({ timeout: 120_000 });
  if (await extractError.isVisible()) throw new Error(`extraction failed: ${await extractError.innerText()}`);
  const schemaTypes = await page.getByTestId('extract-legend').locator('.legend-item').evaluateAll((items) => items.map((item) => item.getAttribute('data-type')));
  const spans = await result.locator('mark.span').evaluateAll((marks) => marks.map((mark) => [mark.firstChild?.textContent ?? '', mark.getAttribute('data-type') ?? '']));
  log(`extracted from "${sentence}": ${JSON.stringify(spans)}; ${await page.getByTestId('extract-timing').innerText()}`);
  log(`answer: ${await page.getByTestId('extract-answer').textContent()}`);
  check(spans.length > 0, 'the extraction highlighted no entity');
  // CoNLL04's entity types all have the demo model's prompt tags: the answer was tag-guided by default.
  if (tagLabel !== null) {
    check(await page.getByTestId('extract-tag-guided').isChecked(), 'tag-guided decoding is not on by default');
    check((await page.getByTestId('extract-timing').innerText()).includes(`tag-guided (${tagLabel})`), 'the extraction does not say it was tag-guided');
  }
  for (const [text, type] of spans) {
    check(text !== '' && sentence.includes(text!), `highlighted "${text}" does not occur in the sentence`);
    check(schemaTypes.includes(type!), `highlighted type "${type}" is not in the schema ${JSON.stringify(schemaTypes)}`);
  }
  // A gold entity, exactly: its span and its type (the constraint keeps mentions to whole words).
  const exact = spans.filter(([text, type]) => goldTypes.get(text!) === type);
  log(`gold: ${JSON.stringify([...goldTypes])}; exact gold entities highlighted: ${JSON.stringify(exact)}`);
  check(exact.length > 0, `no highlighted entity is a gold entity with its type: highlighted ${JSON.stringify(spans)}, gold ${JSON.stringify([...goldTypes])}`);
  await screenshot('extract');

  // Correct: retype the first span to another schema type and save; the preference-pair count rises.
  const counts = page.getByTestId('correction-counts');
  const pairsBefore = Number(/(\d+) preference pairs/.exec(await counts.innerText())?.[1] ?? NaN);
  await page.getByRole('button', { name: 'Correct this answer' }).click();
  const firstSpanType = page.getByTestId('correction-span').first().getByTestId('span-type');
  const otherType = schemaTypes.find((type) => type !== spans[0]![1]) ?? spans[0]![1]!;
  await firstSpanType.selectOption(otherType!);
  await screenshot('correct');
  await page.getByRole('button', { name: 'Save correction' }).click();
  await counts.filter({ hasText: `${pairsBefore + 1} preference pairs` }).waitFor({ timeout: 30_000 });
  log(`after the correction: ${await counts.innerText()}`);

  // Export the merged checkpoint, save every file, and load the folder back through the Model panel.
  await page.getByRole('button', { name: 'Export merged checkpoint' }).click();
  const links = page.getByTestId('export-file');
  await page.getByTestId('export-files').or(page.getByTestId('export-error')).waitFor({ timeout: 120_000 });
  if (await page.getByTestId('export-error').isVisible()) throw new Error(`export failed: ${await page.getByTestId('export-error').innerText()}`);
  const exportDir = join(resultsDir, 'exported-merged');
  const names: string[] = [];
  for (let index = 0; index < (await links.count()); index++) {
    const [download] = await Promise.all([page.waitForEvent('download'), links.nth(index).click()]);
    names.push(download.suggestedFilename());
    await download.saveAs(join(exportDir, download.suggestedFilename()));
  }
  log(`exported ${names.join(', ')} to ${exportDir}`);
  check(['config.json', 'model.safetensors', 'tokenizer.json'].every((name) => names.includes(name)), `the export lacks a checkpoint file: ${names.join(', ')}`);
  await screenshot('export');
  await page.getByTestId('model-folder').setInputFiles(exportDir);
  const summary = page.getByTestId('model-summary');
  // The summary's text content runs cells together ("layers1hidden32"): wait on the row, check the page text.
  await page.getByTestId('model-error').or(summary.filter({ hasText: 'model.safetensors' })).or(summary).waitFor({ timeout: 120_000 });
  if (await page.getByTestId('model-error').isVisible()) throw new Error(`re-loading the exported checkpoint failed: ${await page.getByTestId('model-error').innerText()}`);
  check(new RegExp(`layers\\s+${numLayers}\\b`).test(await summary.innerText()), `the re-loaded checkpoint's summary: ${await summary.innerText()}`);
  log(`re-loaded the exported checkpoint: ${(await summary.innerText()).replace(/\s+/g, ' ')}`);
  // The re-loaded merged weights (no adapter now) must answer exactly as base + adapter did.
  const answerBefore = await page.getByTestId('extract-answer').textContent();
  await page.getByRole('button', { name: 'Extract', exact: true }).click();
  await page.getByTestId('extract-timing').filter({ hasNotText: 'adapter' }).or(extractError).waitFor({ timeout: 120_000 });
  if (await extractError.isVisible()) throw new Error(`extraction with the re-loaded checkpoint failed: ${await extractError.innerText()}`);
  const answerAfter = await page.getByTestId('extract-answer').textContent();
  log(`re-loaded model answers: ${answerAfter}`);
  check(answerAfter === answerBefore, `the re-loaded merged checkpoint answers ${answerAfter}, base + adapter answered ${answerBefore}`);
  await screenshot('reloaded');
}

async function trainInTheBrowser({ page, resultsDir, log, screenshot }: E2eContext, lines: string[]): Promise<void> {
  // Data: three training sentences and one dev sentence (a file named *dev* is the dev set).
  const trainFile = join(resultsDir, 'conll04-sample.jsonl');
  const devFile = join(resultsDir, 'conll04-sample-dev.jsonl');
  writeFileSync(trainFile, lines.slice(0, 3).join('\n') + '\nthis line is not JSON\n');
  writeFileSync(devFile, lines[3] + '\n');
  await page.getByTestId('data-files').setInputFiles([trainFile, devFile]);
  const dataSummary = page.getByTestId('data-summary');
  await dataSummary.waitFor({ timeout: 30_000 });
  const dataText = await dataSummary.innerText();
  log(`data: ${dataText}`);
  check(/3 train \/ 1 dev/.test(dataText), `data summary does not say 3 train / 1 dev: ${dataText}`);
  const problems = await page.getByTestId('data-problems').innerText();
  check(/line 4: not valid JSON/.test(problems), `the bad line is not reported with its number: ${problems}`);
  const firstSpan = page.getByTestId('preview').locator('mark.span').first();
  await firstSpan.waitFor();
  const spanType = await firstSpan.getAttribute('data-type');
  const spanColor = await firstSpan.evaluate((element) => getComputedStyle(element).backgroundColor);
  log(`first highlighted span: "${await firstSpan.innerText()}" (${spanType}, ${spanColor})`);
  check(spanType !== null && spanColor !== 'rgba(0, 0, 0, 0)', 'the highlighted span has no type or no colour');
  await page.getByTestId('schema-valid').waitFor();
  await screenshot('data');

  // Train: LoRA rank 4 on the three sentences (one batch, so the loss of every step is on the same data), pause and resume in the page.
  await page.getByTestId('train-mode').selectOption('lora');
  for (const [field, value] of [['loraRank', '8'], ['lr', '0.03'], ['steps', String(TRAIN_STEPS)], ['batchSize', '3'], ['evalEvery', String(TRAIN_STEPS)], ['checkpointEvery', '1'], ['devF1Examples', '1']]) {
    await page.getByTestId(`train-${field}`).fill(value!);
  }
  const status = page.getByTestId('train-status');
  const stepCell = page.getByTestId('train-step');
  const shownStep = async (): Promise<number> => Number(/^(\d+)/.exec(await stepCell.innerText())?.[1] ?? NaN);
  await page.getByRole('button', { name: 'Start training' }).click();
  await stepCell.waitFor({ timeout: 120_000 });
  await page.getByRole('button', { name: 'Pause' }).click();
  await page.getByTestId('train-status').filter({ hasText: /^paused$/ }).waitFor({ timeout: 120_000 });
  const pausedAt = await shownStep();
  const loss = Number(await page.getByTestId('train-loss').innerText());
  log(`paused at step ${pausedAt}, loss ${loss}, tokens/s ${await page.getByTestId('train-tps').innerText()}`);
  check(pausedAt >= 1 && pausedAt < TRAIN_STEPS, `paused at step ${pausedAt}`);
  check(Number.isFinite(loss) && loss > 0, `loss shown is ${loss}`);
  const points = await page.getByTestId('loss-chart').getByTestId('chart-point').count();
  check(points >= pausedAt, `the chart has ${points} points after ${pausedAt} steps`);
  await screenshot('train-paused');

  await page.getByRole('button', { name: 'Resume', exact: true }).click();
  await page.waitForFunction((step) => Number(/^(\d+)/.exec(document.querySelector('[data-testid="train-step"]')?.textContent ?? '')?.[1]) > step, pausedAt, { timeout: 120_000 });
  await page.getByRole('button', { name: 'Pause' }).click();
  await status.filter({ hasText: /^(paused|finished)$/ }).waitFor({ timeout: 120_000 });
  const secondPause = await shownStep();
  log(`resumed and paused again at step ${secondPause} (${await status.innerText()})`);
  check(secondPause > pausedAt && secondPause < TRAIN_STEPS, `resume did not advance, or the run ended before the second pause: ${pausedAt} → ${secondPause}`);

  {
    // A closed tab: reload, and the run autosaved in OPFS is offered and resumed to the end.
    await page.reload();
    const savedRun = page.getByTestId('saved-run');
    await savedRun.waitFor({ timeout: 60_000 });
    log(`after reload: ${(await savedRun.innerText()).replace(/\s+/g, ' ')}`);
    check(new RegExp(`step ${secondPause} of ${TRAIN_STEPS}`).test(await savedRun.innerText()), 'the saved run does not show the paused step');
    await page.getByTestId('gpu-adapter').waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Resume training' }).click();
  }
  const trainError = page.getByTestId('train-error');
  await status.filter({ hasText: /^finished$/ }).or(trainError).waitFor({ timeout: 180_000 });
  if (await trainError.isVisible()) throw new Error(`training failed: ${await trainError.innerText()}`);
  const finalPoints = await page.getByTestId('loss-chart').getByTestId('chart-point').count();
  log(`finished at step ${await shownStep()} with ${finalPoints} chart points`);
  check((await shownStep()) === TRAIN_STEPS, 'the run did not reach its last step');
  const finalLoss = Number(await page.getByTestId('train-loss').innerText());
  log(`loss ${loss} at step ${pausedAt} → ${finalLoss} at step ${TRAIN_STEPS}; dev F1: ${await page.getByTestId('train-dev-f1').innerText()}`);
  check(Number.isFinite(finalLoss) && finalLoss < loss, `the loss did not fall: ${loss} at step ${pausedAt}, ${finalLoss} at step ${TRAIN_STEPS}`);
  check(finalPoints >= TRAIN_STEPS + 1, `expected ${TRAIN_STEPS} loss points and a dev loss point, the chart has ${finalPoints}`);
  await screenshot('train-finished');
}
