"""Markdown (the subset our reports use) to one self-contained HTML file.

Our own converter: the reports need headings, tables, bullets, bold and inlined PNGs only, and
no Markdown package is among the dependencies."""
import base64
import html
import os.path as osp
import re


def markdown_to_html(markdown: str, work_dir: str, title: str) -> str:
    """A small Markdown subset (headings, tables, bullets, bold, images) to standalone
    HTML with the images inlined."""
    body, table = [], []

    def inline(text):
        text = html.escape(text)
        return re.sub(r'\*\*(.+?)\*\*', r'<b>\1</b>', text)

    def flush():
        if table:
            rows = [r for r in table if not set(r.replace('|', '').strip()) <= {'-'}]
            cells = [[c.strip() for c in r.strip('|').split('|')] for r in rows]
            out = ['<table>', '<tr>' + ''.join(f'<th>{inline(c)}</th>' for c in cells[0]) + '</tr>']
            out += ['<tr>' + ''.join(f'<td>{inline(c)}</td>' for c in row) + '</tr>'
                    for row in cells[1:]]
            body.append('\n'.join(out + ['</table>']))
            table.clear()

    for line in markdown.split('\n'):
        if line.startswith('|'):
            table.append(line)
            continue
        flush()
        image = re.fullmatch(r'!\[(.*)\]\((.+)\)', line)
        if line.startswith('## '):
            body.append(f'<h2>{inline(line[3:])}</h2>')
        elif line.startswith('# '):
            body.append(f'<h1>{inline(line[2:])}</h1>')
        elif line.startswith('- '):
            body.append(f'<li>{inline(line[2:])}</li>')
        elif image:
            path = osp.join(work_dir, image.group(2))
            if osp.isfile(path):
                data = base64.b64encode(open(path, 'rb').read()).decode()
                body.append(f'<img alt="{image.group(1)}" src="data:image/png;base64,{data}">')
        elif line.strip():
            body.append(f'<p>{inline(line)}</p>')
    flush()
    style = ('body{font-family:sans-serif;max-width:1400px;margin:auto;padding:1em}'
             'table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;'
             'padding:3px 8px;text-align:right}img{max-width:100%}')
    return ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>'
            f'{html.escape(title)}</title><style>{style}</style></head><body>'
            + '\n'.join(body) + '</body></html>')


def write_markdown_and_html(lines, out_dir: str, stem: str, title: str):
    """Write ``OUT_DIR/STEM.md`` and its self-contained ``STEM.html``.

    Returns:
        tuple[str, str]: The paths of the Markdown and the HTML file.
    """
    markdown = '\n'.join(lines)
    md_file, html_file = osp.join(out_dir, stem + '.md'), osp.join(out_dir, stem + '.html')
    with open(md_file, 'w') as f:
        f.write(markdown)
    with open(html_file, 'w') as f:
        f.write(markdown_to_html(markdown, out_dir, title))
    return md_file, html_file
