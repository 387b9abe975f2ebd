"""The asyncio AsyncClient against a live server."""
import asyncio
import time
import unittest

import grpc
from support import (ADDRESS, LONG_PROMPT, MODEL, MODEL_PATH, PROMPT, SLOW_READER_OPTIONS,
                     llama2c_greedy_continuation)

from tessera import (AlreadyExistsError, AsyncClient, AsyncGeneration, FailedPreconditionError,
                     FinishReason, NotFoundError, Priority, TesseraError, pb)


async def collect(generation: AsyncGeneration) -> str:
    return "".join([delta async for delta in generation])


class AsyncClientTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.client = await self.enterAsyncContext(AsyncClient(ADDRESS))
        self.slow_reader = await self.enterAsyncContext(
            AsyncClient(ADDRESS, options=SLOW_READER_OPTIONS))

    async def wait_until_not_running(self, request_id: str) -> AsyncGeneration:
        """Generates one token under `request_id` once no generation holds it (at most 5 s)."""
        give_up = time.monotonic() + 5
        while True:
            try:
                generation = self.client.generate(MODEL, PROMPT, request_id=request_id,
                                                  max_tokens=1)
                await collect(generation)
                return generation
            except AlreadyExistsError as error:
                self.assertEqual(error.reason, "DUPLICATE_REQUEST_ID")
                if time.monotonic() > give_up:
                    raise
            await asyncio.sleep(0.005)

    async def test_list_models_sees_the_served_model(self):
        models = await self.client.list_models()
        self.assertIn(MODEL, [model.name for model in models])
        self.assertEqual((await self.client.get_model(MODEL)).architecture, "llama")

    async def test_load_model_streams_progress_then_unload_model_removes_it(self):
        name = "stories-python-asyncio"
        load = self.client.load_model(name, MODEL_PATH, device="cpu")
        stages = [progress.stage async for progress in load]
        self.assertIn(pb.LOAD_STAGE_READING_WEIGHTS, stages)
        self.assertEqual(stages, sorted(stages))
        self.assertEqual(load.model.name, name)
        self.assertIn(name, [model.name for model in await self.client.list_models()])

        with self.assertRaises(AlreadyExistsError) as taken:
            await self.client.load_model(name, MODEL_PATH, device="cpu").wait()
        self.assertEqual(taken.exception.reason, "MODEL_ALREADY_LOADED")

        await self.client.unload_model(name)
        self.assertNotIn(name, [model.name for model in await self.client.list_models()])

    async def test_tokenize_and_detokenize_round_trip(self):
        text = "Once upon a time, Lily found a red ball."
        token_ids = await self.client.tokenize(MODEL, text)
        self.assertTrue(token_ids)
        self.assertEqual(await self.client.detokenize(MODEL, token_ids), text)

    async def test_greedy_generation_matches_llama2c(self):
        async with self.client.generate(MODEL, PROMPT, max_tokens=40,
                                        temperature=0) as generation:
            text = await collect(generation)
        self.assertEqual(generation.finish_reason, FinishReason.LENGTH)
        self.assertEqual(len(generation.token_ids), 40)
        self.assertEqual(generation.usage.completion_tokens, 40)
        self.assertEqual(generation.text, text)
        self.assertGreater(len(text), len(", there was a little girl"))
        self.assertEqual(text, llama2c_greedy_continuation()[:len(text)])

    async def test_leaving_a_stream_midway_cancels_it_on_the_server(self):
        request_id = "python-asyncio-client-leaves"
        async with self.slow_reader.generate(MODEL, PROMPT, request_id=request_id,
                                             ignore_eos=True) as generation:
            async for delta in generation:
                self.assertTrue(delta)
                break
        self.assertIsNone(generation.finish_reason)
        self.assertEqual(await collect(generation), "")
        # The server freed the request id, and a following request still works.
        following = await self.wait_until_not_running(request_id)
        self.assertEqual(len(following.token_ids), 1)

    async def test_cancel_ends_the_stream_with_cancelled(self):
        request_id = "python-asyncio-client-cancel"
        async with self.slow_reader.generate(MODEL, PROMPT, request_id=request_id,
                                             ignore_eos=True) as generation:
            deltas = aiter(generation)
            self.assertTrue(await anext(deltas))
            await self.client.cancel(request_id)
            await collect(deltas)
        self.assertEqual(generation.finish_reason, FinishReason.CANCELLED)
        self.assertEqual(generation.request_id, request_id)
        context_length = (await self.client.get_model(MODEL)).context_length
        self.assertLess(generation.usage.completion_tokens,
                        context_length - generation.usage.prompt_tokens)
        with self.assertRaises(NotFoundError) as finished:
            await self.client.cancel(request_id)
        self.assertEqual(finished.exception.reason, "REQUEST_NOT_FOUND")

    async def test_session_decodes_the_greedy_continuation_and_is_released(self):
        async with self.client.session(MODEL, PROMPT, max_tokens=10,
                                       temperature=0) as session:
            self.assertEqual(len(session.first.token_ids), 1)
            text = session.first.text
            while session.finish_reason is None:
                text += (await session.decode(num_tokens=4)).text
        self.assertEqual(session.finish_reason, FinishReason.LENGTH)
        self.assertEqual(session.usage.completion_tokens, 10)
        self.assertEqual(text, llama2c_greedy_continuation()[:len(text)])
        with self.assertRaises(NotFoundError) as released:
            await session.release()
        self.assertEqual(released.exception.reason, "SESSION_NOT_FOUND")

    async def test_fork_and_parent_both_continue_as_the_session(self):
        greedy = dict(max_tokens=12, ignore_eos=True, temperature=0)
        reference = self.client.generate(MODEL, PROMPT, **greedy)
        await collect(reference)
        async with self.client.session(MODEL, PROMPT, **greedy) as parent:
            first = parent.first.token_ids + (await parent.decode(num_tokens=3)).token_ids
            self.assertEqual(first, reference.token_ids[:4])
            async with parent.fork(request_id="python-asyncio-client-fork") as fork:
                self.assertNotEqual(fork.id, parent.id)
                self.assertEqual(fork.request_id, "python-asyncio-client-fork")
                self.assertIsNone(fork.first)
                self.assertEqual(fork.usage.completion_tokens, 4)
                for session in (fork, parent):
                    rest = await session.decode(num_tokens=8)
                    self.assertEqual(rest.token_ids, reference.token_ids[4:])
                    self.assertEqual(rest.finish_reason, FinishReason.LENGTH)
                with self.assertRaises(FailedPreconditionError) as finished:
                    async with fork.fork():
                        pass
                self.assertEqual(finished.exception.reason, "SESSION_FINISHED")

    async def test_repeated_prompt_reports_cached_tokens_and_gives_the_same_tokens(self):
        first = self.client.generate(MODEL, LONG_PROMPT, max_tokens=12, temperature=0)
        await collect(first)
        second = self.client.generate(MODEL, LONG_PROMPT, max_tokens=12, temperature=0)
        await collect(second)
        self.assertGreater(second.usage.prompt_tokens, 33)
        self.assertGreater(second.usage.cached_prompt_tokens, 0)
        self.assertEqual(second.usage.cached_prompt_tokens % 16, 0)
        self.assertLess(second.usage.cached_prompt_tokens, second.usage.prompt_tokens)
        self.assertEqual(second.token_ids, first.token_ids)

    async def test_high_and_low_priority_give_the_greedy_continuation(self):
        generation = self.client.generate(MODEL, PROMPT, max_tokens=20, temperature=0,
                                          priority=Priority.HIGH)
        text = await collect(generation)
        self.assertEqual(generation.finish_reason, FinishReason.LENGTH)
        self.assertEqual(text, llama2c_greedy_continuation()[:len(text)])
        async with self.client.session(MODEL, PROMPT, max_tokens=20, temperature=0,
                                       priority=Priority.LOW) as session:
            text = session.first.text + (await session.decode(num_tokens=19)).text
        self.assertEqual(text, llama2c_greedy_continuation()[:len(text)])

    async def test_unknown_model_raises_not_found(self):
        with self.assertRaises(NotFoundError) as caught:
            await collect(self.client.generate("no-such-model", PROMPT))
        error = caught.exception
        self.assertIsInstance(error, TesseraError)
        self.assertEqual(error.code, grpc.StatusCode.NOT_FOUND)
        self.assertEqual(error.reason, "MODEL_NOT_FOUND")
        self.assertIn("no-such-model", error.message)


if __name__ == "__main__":
    unittest.main()
