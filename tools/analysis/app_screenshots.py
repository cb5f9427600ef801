"""Screenshots of the web app's pages for the docs, from a running server.

    python tools/serve_app.py demo --config CONFIG --checkpoint CKPT --study STUDY &
    python tools/analysis/app_screenshots.py --url http://127.0.0.1:8000 --study STUDY_ID \
        --annotator NAME --expressions "the red circle" "the star nearest the top" --out docs/images

Headless Chromium from Debian (tools/install_browser.sh) driven by playwright. The demo
is shown after grounding the expressions and after clicking the centre of the first
one's box; the annotation page of ``--annotator`` shows their next item (use one with
items left).
"""
import argparse
import os
import os.path as osp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--url', default='http://127.0.0.1:8000')
    parser.add_argument('--study', help='study id (results and annotation pages)')
    parser.add_argument('--annotator')
    parser.add_argument('--expressions', nargs='+', default=['the red circle'])
    parser.add_argument('--example', type=int, default=0, help='index of the example image')
    parser.add_argument('--out', default='docs/images')
    parser.add_argument('--chromium', default='/usr/bin/chromium')
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=['--no-sandbox'])
        page = browser.new_page(viewport=dict(width=1100, height=660))
        page.goto(args.url + '/demo')
        page.wait_for_function("document.getElementById('view').dataset.ready")
        if args.example:
            page.select_option('#examples', index=args.example)
            page.wait_for_function("document.getElementById('view').dataset.ready")
        page.fill('#expressions', '\n'.join(args.expressions))
        page.click('#segment')
        page.wait_for_function(f"document.querySelectorAll('#res-table tr').length === "
                               f"{len(args.expressions) + 1}")
        x1, y1, x2, y2 = [float(v) for v in page.inner_text(
            '#res-table tr:nth-child(2) td:nth-child(4)').split(',')]
        box = page.locator('#view').bounding_box()
        # the box is in image pixels; the page shows the image enlarged
        f = box['width'] / page.evaluate('image.width')  # the page's current image
        page.mouse.click(box['x'] + (x1 + x2) / 2 * f, box['y'] + (y1 + y2) / 2 * f)
        page.wait_for_function("(t => t && t !== '...')(document.getElementById('reg-text')"
                               ".textContent)")
        page.screenshot(path=osp.join(args.out, 'demo.png'))
        if args.study:
            page = browser.new_page(viewport=dict(width=900, height=620))
            if args.annotator:
                page.goto(f'{args.url}/study/{args.study}/annotate/{args.annotator}')
                page.wait_for_function("document.getElementById('image').dataset.ready")
                page.screenshot(path=osp.join(args.out, 'human_eval_annotate.png'))
            page.set_viewport_size(dict(width=1000, height=800))
            page.goto(f'{args.url}/study/{args.study}/results')
            page.screenshot(path=osp.join(args.out, 'human_eval_results.png'), full_page=True)
        browser.close()
    print(f'screenshots written to {args.out}')


if __name__ == '__main__':
    main()
