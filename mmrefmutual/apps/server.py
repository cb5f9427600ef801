"""One small web app: the human evaluation's annotation and results pages and the demo.

Why a plain HTML/JS page on Starlette + uvicorn rather than gradio: the annotation page
needs exact pixel clicks, a fixed per-annotator order, undo and resumption after a
server restart, all stored by us in SQLite; gradio's components and session state
would be worked around rather than used, its pinned dependency tree is large, and a
page of our own is driven by a headless browser in the tests without depending on
gradio's front-end internals.

Every refusal is an HTTP 4xx with a JSON body ``{"error": message}``.
"""
import io
import json
import os.path as osp
from typing import Dict, Optional

from PIL import Image
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .demo import MAX_UPLOAD_BYTES, DemoError, DemoSession
from .human_eval import StudyDB, StudyError, format_table, score_study, to_csv

STATIC = osp.join(osp.dirname(osp.abspath(__file__)), 'static')
MAX_JSON_BYTES = 64 * 1024


class HTTPError(Exception):

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _page(name: str, **values) -> HTMLResponse:
    with open(osp.join(STATIC, name), 'r', encoding='utf-8') as f:
        html = f.read()
    for key, value in values.items():  # JSON-encoded: safe inside a <script> block
        html = html.replace('{{' + key + '}}', json.dumps(value).replace('</', '<\\/'))
    return HTMLResponse(html)


async def _json_body(request: Request) -> dict:
    body = await request.body()
    if len(body) > MAX_JSON_BYTES:
        raise HTTPError(f'request body of {len(body)} bytes: at most {MAX_JSON_BYTES}', 413)
    try:
        data = json.loads(body or b'null')
    except (ValueError, UnicodeDecodeError):
        raise HTTPError('the request body is not JSON') from None
    if not isinstance(data, dict):
        raise HTTPError('the request body must be a JSON object')
    return data


def build_app(studies: Optional[Dict[str, str]] = None,
              demo: Optional[DemoSession] = None) -> Starlette:
    """The app.

    Args:
        studies (dict, optional): ``{study id: study file}`` to serve.
        demo (DemoSession, optional): The demo's model and examples.
    """
    studies = dict(studies or {})

    def open_study(request: Request) -> StudyDB:
        sid = request.path_params['sid']
        if sid not in studies:
            raise HTTPError(f'unknown study {sid!r}', 404)
        return StudyDB(studies[sid])

    def annotator_of(request: Request, db: StudyDB) -> str:
        name = request.path_params['annotator']
        db.item_order(name)  # NotFound for an unknown annotator
        return name

    def item_id_of(request: Request) -> int:
        raw = request.path_params['item_id']
        if not raw.isdigit() or len(raw) > 12:
            raise HTTPError(f'unknown item {raw!r}', 404)
        return int(raw)

    def state(db: StudyDB, annotator: str) -> dict:
        """What the annotator may see: the next expression and image, never its target
        or model."""
        out = db.progress(annotator)
        item_id = db.next_item(annotator)
        out['item'] = None
        if item_id is not None:
            item = db.item(item_id)
            out['item'] = dict(
                item_id=item_id, expression=item['expression'], width=item['width'],
                height=item['height'],
                image_url=f'/api/study/{db.study_id}/annotators/{annotator}/items/{item_id}/'
                'image')
        return out

    # ------------------------------------------------------------------ pages
    async def index(request: Request) -> HTMLResponse:
        links = [f'<li><a href="/study/{s}/results">study {s}: results</a></li>' for s in studies]
        if demo is not None:
            links.append('<li><a href="/demo">demo</a></li>')
        return HTMLResponse('<!doctype html><title>mmrefmutual</title><h1>mmrefmutual</h1>'
                            f'<ul>{"".join(links)}</ul>')

    async def annotate_page(request: Request) -> HTMLResponse:
        with open_study(request) as db:
            annotator = annotator_of(request, db)
            return _page('annotate.html', study=db.study_id, annotator=annotator)

    async def results_page(request: Request) -> HTMLResponse:
        with open_study(request) as db:
            scores = await run_in_threadpool(score_study, db)
        return _page('results.html', scores=scores, table=format_table(scores))

    # ------------------------------------------------------------------ study API
    async def next_item(request: Request) -> JSONResponse:
        with open_study(request) as db:
            return JSONResponse(state(db, annotator_of(request, db)))

    async def item_image(request: Request) -> Response:
        with open_study(request) as db:
            annotator_of(request, db)
            item = db.item(item_id_of(request))
            return Response(db.image_png(item['image_id']), media_type='image/png',
                            headers={'Cache-Control': 'no-store'})

    async def click(request: Request) -> JSONResponse:
        body = await _json_body(request)
        cant_tell = body.get('cant_tell', False)
        if not isinstance(cant_tell, bool):
            raise HTTPError('cant_tell must be true or false')
        x, y = body.get('x'), body.get('y')
        if not cant_tell and not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                     for v in (x, y)):
            raise HTTPError('a click needs numbers x and y (image pixels), or cant_tell')
        with open_study(request) as db:
            annotator = annotator_of(request, db)
            item_id = item_id_of(request)
            seq = await run_in_threadpool(db.record_click, annotator, item_id, x, y, cant_tell)
            out = state(db, annotator)
            out['recorded'] = dict(item_id=item_id, seq=seq)
            return JSONResponse(out)

    async def undo(request: Request) -> JSONResponse:
        with open_study(request) as db:
            annotator = annotator_of(request, db)
            item_id = await run_in_threadpool(db.undo, annotator)
            out = state(db, annotator)
            out['undone'] = item_id
            return JSONResponse(out)

    async def results_json(request: Request) -> JSONResponse:
        with open_study(request) as db:
            return JSONResponse(await run_in_threadpool(score_study, db))

    async def results_csv(request: Request) -> Response:
        with open_study(request) as db:
            scores = await run_in_threadpool(score_study, db)
        return Response(to_csv(scores), media_type='text/csv')

    # ------------------------------------------------------------------ demo
    def need_demo() -> DemoSession:
        if demo is None:
            raise HTTPError('this server runs no demo (start it with a config and checkpoint)',
                            404)
        return demo

    async def demo_page(request: Request) -> HTMLResponse:
        need_demo()
        return _page('demo.html', examples=sorted(demo.examples))

    async def demo_image(request: Request) -> Response:
        rgb = need_demo().image(request.path_params['image_id'])
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format='PNG')
        return Response(buf.getvalue(), media_type='image/png')

    async def demo_upload(request: Request) -> JSONResponse:
        session = need_demo()
        length = request.headers.get('content-length')
        if length is not None and length.isdigit() and int(length) > MAX_UPLOAD_BYTES:
            raise HTTPError(f'image of {length} bytes: at most {MAX_UPLOAD_BYTES}', 413)
        data = await request.body()
        return JSONResponse(await run_in_threadpool(session.upload, data))

    async def demo_segment(request: Request) -> JSONResponse:
        session = need_demo()
        body = await _json_body(request)
        return JSONResponse(await run_in_threadpool(session.segment, body.get('image_id'),
                                                    body.get('expressions')))

    async def demo_describe(request: Request) -> JSONResponse:
        session = need_demo()
        body = await _json_body(request)
        return JSONResponse(await run_in_threadpool(
            session.describe, body.get('image_id'), body.get('point'), body.get('box'),
            body.get('beam_size', 3)))

    async def error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({'error': str(exc)}, status_code=exc.status)

    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = (f'no such page: {request.url.path}' if exc.status_code == 404 else
                   str(exc.detail))
        return JSONResponse({'error': message}, status_code=exc.status_code)

    routes = [
        Route('/', index),
        Route('/study/{sid}/annotate/{annotator}', annotate_page),
        Route('/study/{sid}/results', results_page),
        Route('/api/study/{sid}/annotators/{annotator}/next', next_item),
        Route('/api/study/{sid}/annotators/{annotator}/items/{item_id}/image', item_image),
        Route('/api/study/{sid}/annotators/{annotator}/items/{item_id}/click', click,
              methods=['POST']),
        Route('/api/study/{sid}/annotators/{annotator}/undo', undo, methods=['POST']),
        Route('/api/study/{sid}/results', results_json),
        Route('/api/study/{sid}/results.csv', results_csv),
        Route('/demo', demo_page),
        Route('/api/demo/images/{image_id}', demo_image),
        Route('/api/demo/upload', demo_upload, methods=['POST']),
        Route('/api/demo/segment', demo_segment, methods=['POST']),
        Route('/api/demo/describe', demo_describe, methods=['POST']),
    ]
    handlers = {HTTPError: error, StudyError: error, DemoError: error,
                HTTPException: http_error}
    return Starlette(routes=routes, exception_handlers=handlers)


def serve(app: Starlette, host: str = '127.0.0.1', port: int = 8000) -> None:
    """Run the app with uvicorn (127.0.0.1 unless told otherwise)."""
    import uvicorn
    uvicorn.run(app, host=host, port=port, log_level='info')
